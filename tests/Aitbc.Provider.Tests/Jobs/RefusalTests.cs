using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>
/// No escrow, no work: every job whose payment does not hold on the chain is refused before the
/// backend is asked anything (the stand-in receives no chat or generate request) and no money moves.
/// </summary>
public sealed class RefusalTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    private const string Prompt = "Summarize the escrow rules in one sentence.";
    private const int MaxTokens = 32;
    private static readonly Amount Quote = Pricing.Cost(Pricing.InputTokenBound([Prompt]), MaxTokens, Market.PriceIn, Market.PriceOut)!.Value;
    private Market Market => fixture.Market;

    public enum Case
    {
        NoEscrow,
        EscrowForAnotherProvider,
        EscrowTooSmall,
        EscrowExpiringTooSoon,
    }

    [Theory]
    [InlineData(Case.NoEscrow, "no escrow for job")]
    [InlineData(Case.EscrowForAnotherProvider, "not this provider")]
    [InlineData(Case.EscrowTooSmall, "less than the quoted price")]
    [InlineData(Case.EscrowExpiringTooSoon, "needs at least 40 s")]
    public async Task A_direct_job_whose_escrow_does_not_hold_is_refused_and_nothing_runs(Case which, string reason)
    {
        await using var standIn = await OllamaStandIn.StartAsync($"llama3.2:refuse-{which}".ToLowerInvariant());
        using var providerKey = Ed25519Key.Generate();
        using var otherProvider = Ed25519Key.Generate();
        // Escrows here leave 20 s: enough for a provider that needs 4 s, too little for one that needs 30 + 10.
        await using var provider = await Market.StartProviderAsync(providerKey, standIn, o =>
        {
            if (which == Case.EscrowExpiringTooSoon)
            {
                o.SettleMarginSeconds = 30;
                o.MinRunSeconds = 10;
            }
        });
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "direct-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(20).ToUnixTimeMilliseconds();
        var locked = which switch
        {
            Case.NoEscrow => Amount.Zero,
            Case.EscrowForAnotherProvider => await LockAsync(client, new EscrowLockBody(jobId, otherProvider.Address, Quote, expiresAt)),
            Case.EscrowTooSmall => await LockAsync(client, new EscrowLockBody(jobId, providerKey.Address, new Amount(Quote.Units - 1), expiresAt)),
            _ => await LockAsync(client, new EscrowLockBody(jobId, providerKey.Address, Quote, expiresAt)),
        };

        var (status, body) = await client.DirectAsync(provider.Uri, Job(jobId, standIn.Model.Name));

        Assert.True(status == HttpStatusCode.PaymentRequired, body.ToString());
        Assert.Equal("refused", body.GetProperty("code").GetString());
        Assert.Contains(reason, body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(Quote.ToString(), body.GetProperty("quote").GetString());
        Assert.Empty(standIn.InferenceRequests);
        await AssertNoMoneyMovedAsync(providerKey.Address, client, jobId, locked);
    }

    [Fact]
    public async Task A_direct_job_whose_escrow_is_still_pending_in_the_mempool_is_refused_and_nothing_runs()
    {
        // A chain of its own that makes a block at most every 5 s, so the lock is surely still pending when the job arrives.
        // (The faucet pays the block before it, so the client's balance is untouched.)
        using var dir = new TempDir();
        using var client = new MarketAgent(Market, Ed25519Key.Generate());
        await using var slowChain = await TestChain.StartAsync(dir.Sub("node"), Market.Logs, minBlockIntervalMs: 5_000, [new GenesisAllocation(client.Address, ClientFunds)]);
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:refuse-pending");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn, o => o.Node = slowChain.RpcUri.ToString());
        var jobId = "direct-" + Guid.NewGuid().ToString("N");
        // A block now, so that the next one is 5 s away whatever the start-up took.
        await slowChain.FundAsync(Ed25519Key.Generate().Address, new Amount(1));
        var lockTx = await slowChain.SubmitAsync(client.Key, new EscrowLockBody(jobId, providerKey.Address, Quote, DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds()), wait: false);
        Assert.True(lockTx.Accepted, lockTx.Problem?.ToString());

        var (status, body) = await client.DirectAsync(provider.Uri, Job(jobId, standIn.Model.Name));
        var lockStatusThen = await slowChain.TxStatusAsync(lockTx.Hash);

        Assert.Equal("pending", lockStatusThen);
        Assert.True(status == HttpStatusCode.PaymentRequired, body.ToString());
        Assert.Contains("no escrow for job", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(standIn.InferenceRequests);
        // Once the lock commits, the money sits in the escrow, untouched; the provider has nothing.
        Assert.True((await slowChain.Client.WaitAsync(lockTx.Hash)).Committed);
        var escrow = await slowChain.EscrowAsync(jobId);
        Assert.Equal("locked", escrow!.Status);
        Assert.Equal(Amount.Zero, (await slowChain.BalanceAsync(providerKey.Address)));
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - Quote.Units, (await slowChain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task A_dispatched_job_whose_escrow_expires_too_soon_for_the_provider_is_rejected_and_nothing_runs()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:refuse-dispatch");
        using var providerKey = Ed25519Key.Generate();
        // The market's escrows last 12 minutes; this provider wants 760 s in hand before it starts anything.
        await using var provider = await Market.StartProviderAsync(providerKey, standIn, o =>
        {
            o.SettleMarginSeconds = 700;
            o.MinRunSeconds = 60;
        });
        using var client = await Market.NewClientAsync(ClientFunds);
        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", Prompt)], MaxTokens);
        var jobId = job.Id;
        var amount = job.Escrow.Body.Amount;

        await client.LockAsync(job);
        var failed = await Market.WaitForStateAsync(jobId, "failed");

        Assert.Equal("provider_rejected", failed.FailureCode);
        Assert.Contains("needs at least 760 s", failed.FailureReason, StringComparison.Ordinal);
        Assert.Empty(standIn.InferenceRequests);
        await AssertNoMoneyMovedAsync(providerKey.Address, client, jobId, amount);
    }

    [Fact]
    public async Task An_unsigned_direct_job_is_refused_before_any_check()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:refuse-unsigned");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var http = new HttpClient { BaseAddress = provider.Uri };
        using var content = new StringContent(Job("direct-unsigned", standIn.Model.Name).ToJsonString(), System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(standIn.InferenceRequests);
    }

    [Fact]
    public async Task A_direct_job_sent_twice_at_once_runs_once()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:refuse-twice");
        standIn.LineDelay = TimeSpan.FromMilliseconds(50);
        using var providerKey = Ed25519Key.Generate();
        await Market.Chain.FundAsync(providerKey.Address, new Amount(1_000_000));
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "direct-" + Guid.NewGuid().ToString("N");
        await LockAsync(client, new EscrowLockBody(jobId, providerKey.Address, Quote, DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds()));

        // The same paid job twice (a replayed request, or a client trying its luck): one escrow pays for one run.
        var answers = await Task.WhenAll(client.DirectAsync(provider.Uri, Job(jobId, standIn.Model.Name)), client.DirectAsync(provider.Uri, Job(jobId, standIn.Model.Name)));

        Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
        var refused = Assert.Single(answers, a => a.Status != HttpStatusCode.OK);
        Assert.True(refused.Status == HttpStatusCode.PaymentRequired, refused.Body.ToString());
        Assert.Single(standIn.InferenceRequests);
        Assert.Equal("settled", (await Market.Chain.EscrowAsync(jobId))!.Status);
    }

    [Fact]
    public async Task A_job_whose_escrow_cannot_be_checked_because_the_node_is_down_is_refused_and_frees_its_slot()
    {
        using var dir = new TempDir();
        var gone = await TestChain.StartAsync(dir.Sub("node"), Market.Logs);
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:refuse-nodedown");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn, o =>
        {
            o.Node = gone.RpcUri.ToString();
            o.Concurrency = 1;
        });
        using var client = new MarketAgent(Market, Ed25519Key.Generate());
        await gone.DisposeAsync();

        // With one slot, a second refusal (rather than "busy") shows the first gave its slot back.
        for (var i = 0; i < 2; i++)
        {
            var (status, body) = await client.DirectAsync(provider.Uri, Job($"direct-{Guid.NewGuid():N}", standIn.Model.Name));

            Assert.True(status == HttpStatusCode.PaymentRequired, body.ToString());
            Assert.Contains("could not be checked", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Empty(standIn.InferenceRequests);
    }

    private static JsonObject Job(string jobId, string model) => new()
    {
        ["jobId"] = jobId,
        ["model"] = model,
        ["prompt"] = Prompt,
        ["maxTokens"] = MaxTokens,
    };

    private async Task<Amount> LockAsync(MarketAgent client, EscrowLockBody body)
    {
        await Market.Chain.CommitAsync(client.Key, body);
        return body.Amount;
    }

    /// <summary>The provider has no account; the client paid only its lock (fee and the locked amount, still in the escrow).</summary>
    private async Task AssertNoMoneyMovedAsync(Address provider, MarketAgent client, string jobId, Amount locked)
    {
        Assert.Equal(Amount.Zero, await Market.Chain.BalanceAsync(provider));
        var escrow = await Market.Chain.EscrowAsync(jobId);
        if (locked.IsZero)
        {
            Assert.Null(escrow);
            Assert.Equal(ClientFunds, await Market.Chain.BalanceAsync(client.Address));
            return;
        }
        Assert.Equal("locked", escrow!.Status);
        Assert.Equal(Amount.Zero, escrow.Paid);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - locked.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }
}
