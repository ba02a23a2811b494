using System.Net;
using System.Net.Sockets;
using Aitbc.Cli.Tests.Infrastructure;

namespace Aitbc.Cli.Tests.Commands;

public sealed class DevnetLifecycleTests
{
    [Fact]
    public async Task Devnet_down_stops_every_process_it_started_and_up_resumes_the_same_chain()
    {
        using var dir = new TempDir();
        var cli = new AitbcProcess(dir.Path);
        var port = AitbcProcess.FreeBasePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var up = await cli.RunAsync("devnet", "up", "--base-port", port, "--ollama", "http://127.0.0.1:1", "--json");
        Assert.True(up.ExitCode == 0, up.ToString());
        var pids = up.Json.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("pid").GetInt32()).ToList();
        Assert.Equal(4, pids.Count);

        var again = await cli.RunAsync("devnet", "up", "--base-port", port);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already running", again.Err);

        var down = await cli.RunAsync("devnet", "down", "--json");
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z", StringComparison.Ordinal), $"pid {pid} still runs"));
        var status = await cli.RunAsync("devnet", "status", "--json");
        Assert.Equal(1, status.ExitCode);
        Assert.All(status.Json.GetProperty("services").EnumerateArray(), s => Assert.False(s.GetProperty("healthy").GetBoolean()));
    }

    [Fact]
    public async Task A_busy_port_is_a_clear_error_naming_its_holder_and_starts_nothing()
    {
        using var dir = new TempDir();
        var cli = new AitbcProcess(dir.Path);
        var b = AitbcProcess.FreeBasePort();
        using var squatter = new TcpListener(IPAddress.Loopback, b + 2);
        squatter.Start();
        var up = await cli.RunAsync("devnet", "up", "--base-port", b.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, up.ExitCode);
        Assert.Contains($"port {b + 2}", up.Err);
        Assert.Contains($"pid {Environment.ProcessId}", up.Err);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "devnet", "run")) && Directory.EnumerateFiles(Path.Combine(dir.Path, "devnet", "run")).Any());
    }
}
