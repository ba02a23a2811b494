using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Aitbc.EndToEnd.Tests.Infrastructure;

/// <summary>The real node executable, started as its own process on a free loopback port.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Rpc = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }
    public HttpClient Rpc { get; }
    public int Pid => _process.Id;
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

    /// <summary>Path of the node executable built beside this test assembly's configuration.</summary>
    public static string Executable => ExecutableOf("Aitbc.Node.Host", "aitbc-node");

    /// <summary>Path of a project's executable, built in the same configuration as this test assembly.</summary>
    public static string ExecutableOf(string project, string assembly) => Aitbc.Testing.BuiltExecutable.Of(project, assembly);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs the node with these arguments to completion (e.g. --verify) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToEndAsync(params string[] args)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<NodeProcess> StartAsync(string dataDir, string genesis, params string[] extra)
    {
        var port = FreePort();
        var args = new List<string> { "--data-dir", dataDir, "--genesis", genesis, "--rpc-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        args.AddRange(extra);
        var process = Process.Start(StartInfo([.. args]))!;
        var node = new NodeProcess(process, port);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The node exited with {process.ExitCode}:\n{node.Output}");
            }
            try
            {
                using var r = await node.Rpc.GetAsync(new Uri("/health/ready", UriKind.Relative));
                if (r.IsSuccessStatusCode)
                {
                    return node;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100);
        }
        await node.DisposeAsync();
        throw new TimeoutException($"The node did not become ready:\n{node.Output}");
    }

    private static ProcessStartInfo StartInfo(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Executable);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        return info;
    }

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
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Rpc.Dispose();
        _process.Dispose();
    }
}
