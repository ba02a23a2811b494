using System.Diagnostics;
using Aitbc.EndToEnd.Tests.Infrastructure;

namespace Aitbc.EndToEnd.Tests;

/// <summary>As git and kubectl do, <c>aitbc NAME</c> runs the executable <c>aitbc-NAME</c>: <c>aitbc ai-serve</c> is the provider daemon.</summary>
public sealed class ExternalCommandTests
{
    [Fact]
    public async Task Aitbc_ai_serve_runs_the_provider_daemon()
    {
        var (code, output) = await RunAsync("ai-serve", "--help");
        Assert.True(code == 0, output);
        Assert.Contains("aitbc-ai-serve — the AITBC provider daemon", output, StringComparison.Ordinal);
        Assert.Contains("--wallet-daemon", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_is_an_error()
    {
        var (code, _) = await RunAsync("no-such-command");
        Assert.NotEqual(0, code);
    }

    private static async Task<(int, string)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(NodeProcess.ExecutableOf("Aitbc.Cli", "aitbc"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
