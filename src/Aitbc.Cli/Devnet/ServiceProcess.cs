using System.Diagnostics;
using System.Globalization;

namespace Aitbc.Cli.Devnet;

/// <summary>
/// A service started in the background: its own session (a Ctrl-C at the terminal does not reach it), its output
/// appended to a log file, and a pid file naming the pid and the process's start time, so that a pid the system has
/// given to another process since is never signalled.
/// </summary>
internal sealed record ServiceProcess(int Pid, long StartTime)
{
    /// <summary>Starts <paramref name="executable"/> (an apphost, or a .dll run by dotnet) with its output in <paramref name="log"/>.</summary>
    public static ServiceProcess Start(string executable, IReadOnlyList<string> args, string log, string pidFile, IReadOnlyDictionary<string, string>? env = null)
    {
        // sh redirects and execs setsid, which execs the service: the pid Process.Start gives is the service's.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=\"$1\"; shift; exec setsid \"$@\" >>\"$log\" 2>&1 </dev/null");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(log);
        if (executable.EndsWith(".dll", StringComparison.Ordinal))
        {
            info.ArgumentList.Add(Environment.ProcessPath is { } dotnet && Path.GetFileNameWithoutExtension(dotnet) == "dotnet" ? dotnet : "dotnet");
        }
        info.ArgumentList.Add(executable);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        var started = new ServiceProcess(process.Id, StartTimeOf(process.Id) ?? 0);
        File.WriteAllText(pidFile, $"{started.Pid} {started.StartTime.ToString(CultureInfo.InvariantCulture)}\n");
        return started;
    }

    /// <summary>The process a pid file names, if that very process still runs.</summary>
    public static ServiceProcess? Read(string pidFile)
    {
        if (!File.Exists(pidFile))
        {
            return null;
        }
        var parts = File.ReadAllText(pidFile).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }
        var p = new ServiceProcess(pid, start);
        return p.Alive ? p : null;
    }

    /// <summary>Running, and the same process that was started (not a later one that got its pid).</summary>
    public bool Alive => StartTimeOf(Pid) is { } now && now == StartTime && !IsZombie(Pid);

    /// <summary>SIGTERM, then, after <paramref name="grace"/>, SIGKILL; true when it is gone.</summary>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        if (!Alive)
        {
            return true;
        }
        Signal(Pid, 15);
        var sw = Stopwatch.StartNew();
        while (Alive && sw.Elapsed < grace)
        {
            await Task.Delay(100);
        }
        if (Alive)
        {
            Signal(Pid, 9);
            for (var i = 0; i < 50 && Alive; i++)
            {
                await Task.Delay(100);
            }
        }
        return !Alive;
    }

    private static void Signal(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal.ToString(CultureInfo.InvariantCulture)}", pid.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        });
        kill?.WaitForExit();
    }

    /// <summary>Field 22 of <c>/proc/PID/stat</c>: the start time in clock ticks since boot.</summary>
    internal static long? StartTimeOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }
}
