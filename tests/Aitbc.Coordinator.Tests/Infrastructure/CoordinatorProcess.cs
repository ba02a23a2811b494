using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>The real coordinator executable (<c>aitbc-coordinator</c>), started as its own process on a free port.</summary>
public sealed partial class CoordinatorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CoordinatorProcess(Process process) => _process = process;

    public Uri Uri { get; private set; } = null!;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Path of the coordinator executable built beside this test assembly's configuration.</summary>
    public static string Executable => Aitbc.Testing.BuiltExecutable.Of("Aitbc.Coordinator.Host", "aitbc-coordinator");

    /// <summary>Starts <c>dotnet aitbc-coordinator.dll</c> with these flags and <c>--port 0</c>; returns once it is ready (database and chain).</summary>
    public static async Task<CoordinatorProcess> StartAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Executable);
        foreach (var a in args.Concat(["--port", "0"]))
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info)!;
        var c = new CoordinatorProcess(process);
        process.OutputDataReceived += (_, e) => c.Append(e.Data);
        process.ErrorDataReceived += (_, e) => c.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            c.Uri = await c._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = c.Uri, Timeout = TimeSpan.FromSeconds(10) };
            await MarketFixture.Eventually(async () =>
            {
                Assert.False(process.HasExited, $"the coordinator exited with {(process.HasExited ? process.ExitCode : 0)}:\n{c.Output}");
                using var r = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                return r.StatusCode == HttpStatusCode.OK;
            }, "the coordinator process to be ready", () => c.Output, seconds: 60);
            return c;
        }
        catch (TimeoutException)
        {
            await c.DisposeAsync();
            throw new TimeoutException($"The coordinator did not say where it listens:\n{c.Output}");
        }
    }

    [GeneratedRegex(@" at (http://\S+) \(")]
    private static partial Regex ListeningLine();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (ListeningLine().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult(new Uri(m.Groups[1].Value));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
