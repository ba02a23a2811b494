using System.Net;
using System.Text.Json.Nodes;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>
/// Work that fails after the escrow checked out: the provider refunds the escrow at once (paying
/// the refund's fee itself) and reports the failure, so the client loses nothing but its lock fee.
/// </summary>
public sealed class FailureTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    // A provider that refunds pays the refund's fee, so these start with a little money.
    private static readonly Amount ProviderFunds = new(1_000_000);
    private Market Market => fixture.Market;

    [Fact]
    public async Task A_backend_error_mid_stream_refunds_the_escrow_and_fails_the_job()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:fail-midstream");
        standIn.FailAfterLines = 3;
        using var providerKey = Ed25519Key.Generate();
        await Market.Chain.FundAsync(providerKey.Address, ProviderFunds);
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", "Count from one to ten in words please")], maxTokens: 32);
        var jobId = job.Id;
        await client.LockAsync(job);
        var failed = await Market.WaitForStateAsync(jobId, "failed");
        var escrow = await Eventually.GetAsync(async () => await Market.Chain.EscrowAsync(jobId) is { Status: "refunded" } e ? e : null,
            "the escrow to be refunded", () => Market.Logs.Text);

        Assert.Single(standIn.InferenceRequests);
        Assert.Equal(Amount.Zero, escrow.Paid);
        // Whichever reaches the coordinator first fails the job: the provider's report, or the refund seen on the chain.
        var code = failed.FailureCode;
        Assert.Contains(code, (string[])["provider_failed", "refunded"]);
        if (code == "provider_failed")
        {
            Assert.Contains(OllamaStandIn.MidStreamError, failed.FailureReason, StringComparison.Ordinal);
        }
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        Assert.Equal(ProviderFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
        using var http = new HttpClient(new Aitbc.Node.Client.SigningHandler(client.Key)) { BaseAddress = Market.Coordinator.Uri };
        using var result = await http.GetAsync(new Uri($"/v1/jobs/{jobId}/result", UriKind.Relative));
        Assert.NotEqual(HttpStatusCode.OK, result.StatusCode);
    }

    [Fact]
    public async Task A_backend_error_mid_stream_on_a_direct_job_answers_the_failure_and_the_refund()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:fail-direct");
        standIn.FailAfterLines = 1;
        using var providerKey = Ed25519Key.Generate();
        await Market.Chain.FundAsync(providerKey.Address, ProviderFunds);
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);
        const string prompt = "a b c d e f";
        var jobId = "direct-" + Guid.NewGuid().ToString("N");
        var quote = Pricing.Cost(Pricing.InputTokenBound([prompt]), 8, Market.PriceIn, Market.PriceOut)!.Value;
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, providerKey.Address, quote, DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds()));

        var (status, body) = await client.DirectAsync(provider.Uri, new JsonObject { ["jobId"] = jobId, ["model"] = standIn.Model.Name, ["prompt"] = prompt, ["maxTokens"] = 8 });

        Assert.True(status == HttpStatusCode.BadGateway, body.ToString());
        Assert.Equal("job_failed", body.GetProperty("code").GetString());
        Assert.Contains(OllamaStandIn.MidStreamError, body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var refundTx = Hash256.Parse(body.GetProperty("refundTx").GetString()!);
        Assert.Equal("committed", await Market.Chain.TxStatusAsync(refundTx));
        Assert.Equal("refunded", (await Market.Chain.EscrowAsync(jobId))!.Status);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        Assert.Equal(ProviderFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
    }

    [Fact]
    public async Task A_backend_connection_dropped_mid_stream_refunds_the_escrow_and_fails_the_job()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:fail-dropped");
        standIn.DropAfterLines = 2;
        using var providerKey = Ed25519Key.Generate();
        await Market.Chain.FundAsync(providerKey.Address, ProviderFunds);
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", "one two three four five six seven")], maxTokens: 32);
        var jobId = job.Id;
        await client.LockAsync(job);
        await Market.WaitForStateAsync(jobId, "failed");
        var escrow = await Eventually.GetAsync(async () => await Market.Chain.EscrowAsync(jobId) is { Status: "refunded" } e ? e : null,
            "the escrow to be refunded", () => Market.Logs.Text);

        Assert.Single(standIn.InferenceRequests);
        Assert.Equal(Amount.Zero, escrow.Paid);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        Assert.Equal(ProviderFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
    }

    [Fact]
    public async Task Disposing_the_provider_with_no_grace_period_stops_the_running_job_and_refunds_it()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:fail-shutdown");
        standIn.LineDelay = TimeSpan.FromMilliseconds(100);
        using var providerKey = Ed25519Key.Generate();
        await Market.Chain.FundAsync(providerKey.Address, ProviderFunds);
        var provider = await Market.StartProviderAsync(providerKey, standIn, o => o.GraceSeconds = 0);
        using var client = await Market.NewClientAsync(ClientFunds);
        var words = string.Join(' ', Enumerable.Range(1, 400).Select(i => $"w{i}"));

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", words)], maxTokens: 400);
        var jobId = job.Id;
        await client.LockAsync(job);
        await standIn.FirstLineSent.WaitAsync(TimeSpan.FromSeconds(30));
        await provider.DisposeAsync();

        Assert.Equal("refunded", (await Market.Chain.EscrowAsync(jobId))!.Status);
        Assert.True(standIn.LinesSent < 400, "the job was stopped, not finished");
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        Assert.Equal(ProviderFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
        await Market.WaitForStateAsync(jobId, "failed");
    }

    [Fact]
    public async Task Disposing_the_provider_within_the_grace_period_lets_the_running_job_finish_and_delivers_its_result()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:grace");
        standIn.LineDelay = TimeSpan.FromMilliseconds(50);
        using var providerKey = Ed25519Key.Generate();
        var provider = await Market.StartProviderAsync(providerKey, standIn, o => o.GraceSeconds = 30);
        using var client = await Market.NewClientAsync(ClientFunds);
        var words = string.Join(' ', Enumerable.Range(1, 20).Select(i => $"w{i}"));

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", words)], maxTokens: 64);
        var jobId = job.Id;
        await client.LockAsync(job);
        await standIn.FirstLineSent.WaitAsync(TimeSpan.FromSeconds(30));
        await provider.DisposeAsync();

        // Shut down, yet the job was finished, paid, and its result is with the coordinator for the client.
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.True(escrow!.Status == "settled", $"the escrow is {escrow.Status}, not settled; the market's log:\n{Market.Logs.Text}");
        await Market.WaitForStateAsync(jobId, "completed");
        Assert.Equal(escrow.Paid.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
    }
}
