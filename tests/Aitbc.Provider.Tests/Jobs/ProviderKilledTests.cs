using System.Net;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>Escrows expire 15 s after a job is submitted here, so a job its provider never finishes is refundable soon.</summary>
public sealed class ShortEscrowMarketFixture : IAsyncLifetime
{
    private Market? _market;

    public Market Market => _market ?? throw new InvalidOperationException("The market has not started.");

    public async Task InitializeAsync() => _market = await Market.StartAsync(paymentWindowSeconds: 5, jobTimeoutSeconds: 10);

    public async Task DisposeAsync()
    {
        if (_market is not null)
        {
            await _market.DisposeAsync();
        }
    }
}

/// <summary>
/// The provider process dies mid-job (SIGKILL: no refund, no report). The client's money is only ever
/// in the escrow: once it expires the client refunds it and has everything back but its fees.
/// </summary>
public sealed class ProviderKilledTests(ShortEscrowMarketFixture fixture) : IClassFixture<ShortEscrowMarketFixture>
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    private Market Market => fixture.Market;

    [Fact]
    public async Task A_provider_killed_mid_job_leaves_the_escrow_for_the_client_to_refund_after_expiry()
    {
        using var dir = new TempDir();
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:killed");
        standIn.LineDelay = TimeSpan.FromMilliseconds(200);
        await using var provider = await ProviderProcess.StartAsync(dir.Path, Market, standIn, new Dictionary<string, string>
        {
            ["SettleMarginSeconds"] = "2",
            ["MinRunSeconds"] = "2",
            ["HeartbeatSeconds"] = "1",
        });
        await Eventually.TrueAsync(async () => PrometheusText.Samples(await MetricsAsync(), "aitbc_provider_connections") is [1],
            "the provider process's dispatch connection", () => provider.Output);
        using var client = await Market.NewClientAsync(ClientFunds);
        var before = await TotalAsync(client.Address, provider.Address);
        var words = string.Join(' ', Enumerable.Range(1, 300).Select(i => $"w{i}"));

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", words)], maxTokens: 300);
        var jobId = job.Id;
        var expiresAt = job.ExpiresAt;
        await client.LockAsync(job);
        await standIn.FirstLineSent.WaitAsync(TimeSpan.FromSeconds(30));
        await Market.WaitForStateAsync(jobId, "running");
        await provider.KillAsync();

        // Before expiry the money stays in the escrow; the client may not take it back yet.
        Assert.Equal("locked", (await Market.Chain.EscrowAsync(jobId))!.Status);
        var early = await Market.Chain.SubmitAsync(client.Key, new EscrowRefundBody(jobId));
        Assert.False(early.Committed, "a client refund before expiry must be refused");
        await Eventually.TrueAsync(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > expiresAt + 200, "the escrow to expire", seconds: 60);
        await Market.Chain.CommitAsync(client.Key, new EscrowRefundBody(jobId));

        Assert.Single(standIn.InferenceRequests);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("refunded", escrow!.Status);
        Assert.Equal(Amount.Zero, escrow.Paid);
        // The client paid two fees (lock and refund; the refused early refund paid none) and nothing else.
        Assert.Equal(ClientFunds.Units - (2 * TestChain.Fee.Units), (await Market.Chain.BalanceAsync(client.Address)).Units);
        Assert.Equal(Amount.Zero, await Market.Chain.BalanceAsync(provider.Address));
        // Nothing lost: what left the client went to the proposer as fees, and nowhere else.
        var after = await TotalAsync(client.Address, provider.Address);
        Assert.Equal(before, after);
        await Market.WaitForStateAsync(jobId, "failed");
    }

    private async Task<ulong> TotalAsync(params Address[] accounts)
    {
        var total = (await Market.Chain.BalanceAsync(TestChain.Proposer)).Units;
        foreach (var a in accounts)
        {
            total += (await Market.Chain.BalanceAsync(a)).Units;
        }
        return total;
    }

    private async Task<string> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = Market.Coordinator.Uri };
        using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
