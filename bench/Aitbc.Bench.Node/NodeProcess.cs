using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Aitbc.Bench.Node;

/// <summary>
/// The real node, <c>dotnet aitbc-node.dll</c>, as a child process on loopback with a port of its
/// own choosing. Its memory and CPU time are read from <c>/proc</c>; it is stopped (SIGTERM, then
/// killed) when disposed.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource<Uri> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(Process process)
    {
        _process = process;
        // Should this process end without disposing (an unhandled exception), the node goes too.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public int Pid => _process.Id;

    public Uri RpcUri => _ready.Task.Result;

    [GeneratedRegex(@"serving chain \S+ at (http://\S+) ")]
    private static partial Regex ServingLine();

    /// <summary>The node executable of this checkout, built in the same configuration as the bench.</summary>
    public static string LocateDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Aitbc.slnx")))
        {
            dir = dir.Parent;
        }
        if (dir is null)
        {
            throw new FileNotFoundException("Cannot find the checkout (Aitbc.slnx) above the bench; pass --node PATH/aitbc-node.dll.");
        }
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        return Path.Combine(dir.FullName, "src", "Aitbc.Node.Host", "bin", configuration, "net10.0", "aitbc-node.dll");
    }

    /// <param name="extra">More flags for the node (its limits, raised for one loopback client that sends a lot).</param>
    public static async Task<NodeProcess> StartAsync(string dll, string dataDir, string genesis, string validatorKey, int mempoolCapacity,
        IEnumerable<string> extra, TimeSpan timeout, CancellationToken ct)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The node executable '{dll}' does not exist: run `dotnet build -c Release bench/Aitbc.Bench.Node` first, or pass --node.");
        }
        var host = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in (string[])
        [
            dll, "--data-dir", dataDir, "--genesis", genesis, "--validator-key", validatorKey,
            "--rpc-host", "127.0.0.1", "--rpc-port", "0", "--mempool-capacity", mempoolCapacity.ToString(CultureInfo.InvariantCulture),
            .. extra,
        ])
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("The node process did not start.");
        var node = new NodeProcess(process);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            var exited = process.WaitForExitAsync(cts.Token);
            var first = await Task.WhenAny(node._ready.Task, exited);
            if (first != node._ready.Task)
            {
                await exited; // rethrows a cancellation or timeout
                throw new InvalidOperationException($"The node exited with code {process.ExitCode} before serving:\n{node.Tail()}");
            }
            return node;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await node.DisposeAsync();
            throw new TimeoutException($"The node did not start serving within {timeout.TotalSeconds} s:\n{node.Tail()}");
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > 40)
            {
                _tail.Dequeue();
            }
        }
        if (ServingLine().Match(line) is { Success: true } m)
        {
            _ready.TrySetResult(new Uri(m.Groups[1].Value));
        }
    }

    /// <summary>The last lines the node wrote, for error messages.</summary>
    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>A field of <c>/proc/PID/status</c> in bytes (VmRSS, VmHWM, …).</summary>
    public long ProcStatusBytes(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var kb = line[(field.Length + 1)..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException($"/proc/{Pid}/status has no {field}");
    }

    /// <summary>User plus system CPU time of the node so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        if (!_process.HasExited)
        {
            try
            {
                // SIGTERM: the node finishes its block and closes its store.
                using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
                if (kill is not null)
                {
                    await kill.WaitForExitAsync();
                }
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or System.ComponentModel.Win32Exception)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
