using System.Diagnostics;
using System.Text.Json;
using Aitbc.EndToEnd.Tests.Infrastructure;

namespace Aitbc.EndToEnd.Tests;

/// <summary>The README's first command: <c>aitbc devnet demo</c> runs a paid AI job end to end, as a real process.</summary>
public sealed class DevnetDemoTests
{
    [Fact]
    public async Task Devnet_demo_runs_a_paid_job_end_to_end()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(NodeProcess.ExecutableOf("Aitbc.Cli", "aitbc"));
        foreach (var a in new[] { "devnet", "demo", "--json" })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");

        using var doc = JsonDocument.Parse(await stdout);
        var r = doc.RootElement;
        Assert.Equal("settled", r.GetProperty("escrowStatus").GetString());
        Assert.True(r.GetProperty("developmentModel").GetBoolean());
        var price = ulong.Parse(r.GetProperty("price").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var charged = ulong.Parse(r.GetProperty("charged").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var provider = ulong.Parse(r.GetProperty("providerBalance").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var client = ulong.Parse(r.GetProperty("clientBalance").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(charged, 1UL, price);
        const ulong fee = 1_000;
        const ulong faucetPayment = 100_000_000_000;
        Assert.Equal(charged - fee, provider);
        Assert.Equal(faucetPayment - fee - charged, client);
        // dev-echo answers with the prompt's words reversed.
        Assert.Equal("uses it tokens the exactly for pays market the", r.GetProperty("output").GetString());
    }
}
