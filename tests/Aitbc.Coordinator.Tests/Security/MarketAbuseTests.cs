using System.Net;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Coordinator.Providers;
using Aitbc.Coordinator.Tests.Infrastructure;
using static Aitbc.Coordinator.Tests.Infrastructure.MarketTerms;
using Aitbc.ServiceDefaults.Networks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Tests.Security;

public sealed class SqliteMarketAbuseTests(SqliteMarket market) : MarketAbuseTests<SqliteMarket>(market);

public sealed class PostgresMarketAbuseTests(PostgresMarket market) : MarketAbuseTests<PostgresMarket>(market);

/// <summary>
/// The attacks of the second review of the coordinator (docs/security.md, items 8, 9, 10 and 13), each performed against a
/// real coordinator on a real database following a real node: refused or made harmless, and nothing moved.
/// </summary>
public abstract class MarketAbuseTests<TMarket>(TMarket market) : IClassFixture<TMarket>
    where TMarket : MarketFixture
{

    private Task<JobEntity> RowAsync(string id) => market.DbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));

    /// <summary>One sweep of the coordinator's sweeper now (it also runs by itself): what it does not change after it, it leaves.</summary>
    private Task SweepAsync() => market.Coordinator.Services.GetRequiredService<Sweeper>().SweepAsync(CancellationToken.None);

    private async Task<JsonElement> RecordAsync(FakeProvider provider) =>
        (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");

    /// <summary>Moves the clock on in steps shorter than the heartbeat timeout, heartbeating <paramref name="providers"/> after each, so they stay online.</summary>
    private async Task AdvanceOnlineAsync(TimeSpan by, params FakeProvider[] providers)
    {
        var step = TimeSpan.FromSeconds(5);
        for (var moved = TimeSpan.Zero; moved < by; moved += step)
        {
            market.Time.Advance(step);
            foreach (var p in providers)
            {
                await MarketFixture.Eventually(async () => (await p.HeartbeatAsync()).Status == HttpStatusCode.OK, $"provider {p.Address} heartbeats");
            }
        }
    }

    private static UsageReceipt Receipt(FakeProvider provider, JobOffer offer, string output, long tokensOut)
    {
        var (tokensIn, _, _) = FakeProvider.Meter(offer, [output]);
        var amount = new Amount(Math.Min(Pricing.Cost(tokensIn, tokensOut, offer.PriceIn, offer.PriceOut)!.Value.Units,
            offer.Amount.Units));
        return provider.SignReceipt(offer, tokensIn, tokensOut, amount, output);
    }

    [Fact]
    public async Task Attack10_AResultPaidOnTheChainButDelayedPastTheDeadlineIsTakenAndCompletesTheJob()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(100 * Ait);

        // Settled on the chain, then the result is delayed (the coordinator away) past the escrow's expiry: the sweeper leaves it.
        var (job, offer) = await market.RunningAsync(client, provider, model, Prompt);
        var id = Id(job);
        var output = string.Concat(FakeProvider.Tokens(offer));
        var receipt = Receipt(provider, offer, output, FakeProvider.Tokens(offer).Count);
        Assert.True((await provider.SubmitAsync(new EscrowSettleBody(id, receipt.Amount, receipt.Hash))).Committed);
        await MarketFixture.Eventually(async () => (await RowAsync(id)).ChargedAmount is not null, "the settle seen");
        market.Time.Advance(TimeSpan.FromMilliseconds(job.GetProperty("expiresAt").GetInt64() - market.Time.NowMs + 1_000));
        await SweepAsync();
        Assert.Equal(JobStates.Running, (await RowAsync(id)).State);
        (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK);
        Assert.Equal(output, (await client.GetAsync($"/v1/jobs/{id}/result")).Expect(HttpStatusCode.OK).GetProperty("output").GetString());
        // The moved clock outran the provider's offers: it registers them again.
        (await provider.RegisterAsync()).Expect(HttpStatusCode.OK);

        // Failed as timed out first (not settled when the deadline passed), settled afterwards: the result still completes it,
        // but only for the receipt the chain settled, and only once it is settled.
        var (late, lateOffer) = await market.RunningAsync(client, provider, model, Prompt);
        var lateId = Id(late);
        market.Time.Advance(TimeSpan.FromMilliseconds(late.GetProperty("expiresAt").GetInt64() - market.Time.NowMs + 1_000));
        await SweepAsync();
        Assert.Equal(FailureCode.Timeout, (await market.WaitForStateAsync(lateId, JobStates.Failed)).GetProperty("failureCode").GetString());
        var lateOutput = string.Concat(FakeProvider.Tokens(lateOffer));
        var lateReceipt = Receipt(provider, lateOffer, lateOutput, FakeProvider.Tokens(lateOffer).Count);
        (await provider.PostResultAsync(lateId, lateOutput, lateReceipt)).ExpectProblem(HttpStatusCode.Conflict, "wrong_state");
        Assert.True((await provider.SubmitAsync(new EscrowSettleBody(lateId, lateReceipt.Amount, lateReceipt.Hash))).Committed);
        var other = Receipt(provider, lateOffer, "another", 1);
        (await provider.PostResultAsync(lateId, "another", other)).ExpectProblem(HttpStatusCode.Conflict, "wrong_state");
        var row = await RowAsync(lateId);
        Assert.Equal((JobStates.Failed, null, null), (row.State, row.Output, row.Receipt));

        (await provider.PostResultAsync(lateId, lateOutput, lateReceipt)).Expect(HttpStatusCode.OK);
        row = await RowAsync(lateId);
        Assert.Equal((JobStates.Completed, lateOutput, lateReceipt.Hash.ToString(), (string?)null), (row.State, row.Output, row.ReceiptHash, row.FailureCode));
        // The same again is acknowledged; the escrow is as the provider settled it.
        (await provider.PostResultAsync(lateId, lateOutput, lateReceipt)).Expect(HttpStatusCode.OK);
        var escrow = (await market.Node.Client.EscrowAsync(lateId))!;
        Assert.Equal(("settled", lateReceipt.Amount), (escrow.Status, escrow.Paid));
        await MarketFixture.Eventually(async () => (await RecordAsync(provider)).GetProperty("completed").GetInt32() == 2, "both counted completed");
    }

    [Fact]
    public async Task Attack13_AReceiptCountingMoreOutputTokensThanTheOutputHasBytesIsRefused()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(100 * Ait);
        var job = await client.SubmitCreatedAsync(model, Prompt, maxTokens: 64);
        await client.LockAsync(market.Node, job);
        var offer = await provider.NextJobAsync();
        await provider.AcceptAsync(Id(job));
        await market.WaitForStateAsync(Id(job), JobStates.Running);
        var id = Id(job);

        // One byte of output claiming the whole of maxTokens, or one token more than its bytes and the slack.
        foreach (var inflated in new long[] { 64, 1 + Pricing.OutputTokenSlack + 1 })
        {
            var refused = (await provider.PostResultAsync(id, "x", Receipt(provider, offer, "x", inflated))).ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
            Assert.Contains("output tokens", refused.Detail, StringComparison.Ordinal);
        }
        var row = await RowAsync(id);
        Assert.Equal((JobStates.Running, null, null), (row.State, row.Receipt, row.TokensOut));
        Assert.Equal("locked", (await market.Node.Client.EscrowAsync(id))!.Status);

        // Its bytes plus the slack (end and stop tokens write nothing) is taken.
        (await provider.PostResultAsync(id, "x", Receipt(provider, offer, "x", 1 + Pricing.OutputTokenSlack))).Expect(HttpStatusCode.OK);
        Assert.Equal(1 + Pricing.OutputTokenSlack, (await RowAsync(id)).TokensOut);
    }

    [Fact]
    public async Task Attack09_AProviderThatRefundsEachDispatchItselfCoolsDownAndLosesTheMarket()
    {
        var model = market.NewModel();
        await using var fake = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 1, priceOut: 1);
        await using var honest = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 3 * Ait, priceOut: 7 * Ait);
        await market.Node.FundAsync(fake.Address, 1 * Ait);
        using var client = await market.NewClientAsync(100 * Ait);

        var job = await client.SubmitCreatedAsync(model);
        Assert.Equal(fake.Address.ToString(), ProviderOf(job));
        await client.LockAsync(market.Node, job);
        var balance = (await market.Node.BalanceAsync(client.Address)).Units;
        Assert.Equal(Id(job), Id(await fake.NextJobAsync()));
        Assert.True((await fake.SubmitAsync(new EscrowRefundBody(Id(job)))).Committed);
        Assert.Equal(FailureCode.Refunded, (await market.WaitForStateAsync(Id(job), JobStates.Failed)).GetProperty("failureCode").GetString());
        await MarketFixture.Eventually(async () => (await RecordAsync(fake)).GetProperty("failed").GetInt32() == 1, "the refund counted as a failure");

        // Cooling down: the next jobs go to the dearer honest one.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(honest.Address.ToString(), ProviderOf(await client.SubmitCreatedAsync(model)));
        }
        // Nothing moved but the refund: the client has its escrow back, the fake has only the faucet's payment less its fee.
        Assert.Equal(balance + Amount.Parse(job.GetProperty("price").GetString()!).Units, (await market.Node.BalanceAsync(client.Address)).Units);
        Assert.Equal((1 * Ait) - ChainNode.Fee, (await market.Node.BalanceAsync(fake.Address)).Units);
        Assert.Equal(0, (await RecordAsync(fake)).GetProperty("completed").GetInt32());
    }

    [Fact]
    public async Task Attack09_AProviderThatGoesOfflineHoldingAFundedJobCoolsDown()
    {
        var model = market.NewModel();
        await using var fake = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 1, priceOut: 1, connect: false);
        await using var honest = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 3 * Ait, priceOut: 7 * Ait);
        using var client = await market.NewClientAsync(100 * Ait);
        var job = await client.SubmitCreatedAsync(model);
        Assert.Equal(fake.Address.ToString(), ProviderOf(job));
        await client.LockAsync(market.Node, job);
        await market.WaitForStateAsync(Id(job), JobStates.Funded);

        await fake.StopHeartbeatsAsync();
        market.Time.Advance(TimeSpan.FromSeconds(market.Options.HeartbeatTimeoutSeconds + 1));
        await SweepAsync();
        Assert.Equal(FailureCode.ProviderOffline, (await market.WaitForStateAsync(Id(job), JobStates.Failed)).GetProperty("failureCode").GetString());

        // Back online at once, but cooling down: the honest one gets the work.
        (await fake.HeartbeatAsync()).Expect(HttpStatusCode.OK);
        await MarketFixture.Eventually(async () => (await honest.HeartbeatAsync()).Status == HttpStatusCode.OK, "the honest one online");
        await MarketFixture.Eventually(async () => (await RecordAsync(fake)).GetProperty("failed").GetInt32() == 1, "going offline counted as a failure");
        Assert.Equal(honest.Address.ToString(), ProviderOf(await client.SubmitCreatedAsync(model)));
        Assert.Equal(0UL, (await market.Node.BalanceAsync(fake.Address)).Units);
        Assert.Equal("locked", (await market.Node.Client.EscrowAsync(Id(job)))!.Status);
    }

    [Fact]
    public async Task Attack09_AFundedJobWhoseProviderHeartbeatsButNeverConnectsFailsAsAnAcceptTimeout()
    {
        var model = market.NewModel();
        await using var fake = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 1, priceOut: 1, connect: false);
        await using var honest = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 3 * Ait, priceOut: 7 * Ait);
        using var client = await market.NewClientAsync(100 * Ait);
        var job = await client.SubmitCreatedAsync(model);
        Assert.Equal(fake.Address.ToString(), ProviderOf(job));
        await client.LockAsync(market.Node, job);
        await market.WaitForStateAsync(Id(job), JobStates.Funded);

        // Online all along (heartbeats), never connected: past the accept timeout and the dispatch margin it loses the job.
        await AdvanceOnlineAsync(TimeSpan.FromSeconds(market.Options.AcceptTimeoutSeconds + market.Options.DispatchMarginSeconds + 1), fake, honest);
        await SweepAsync();
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal(FailureCode.AcceptTimeout, failed.GetProperty("failureCode").GetString());
        await MarketFixture.Eventually(async () => (await RecordAsync(fake)).GetProperty("timedOut").GetInt32() == 1, "the timeout counted");
        Assert.Equal(honest.Address.ToString(), ProviderOf(await client.SubmitCreatedAsync(model)));
        // Never paid; the escrow stays locked for the client to refund at its expiry.
        Assert.Equal(0UL, (await market.Node.BalanceAsync(fake.Address)).Units);
        Assert.Equal("locked", (await market.Node.Client.EscrowAsync(Id(job)))!.Status);
        Assert.Empty(fake.Received);
    }

    [Fact]
    public async Task Attack09_FreshAddressesWinAtMostOneInProbationShareMatchesAProvenProviderCanServe()
    {
        var model = market.NewModel();
        await using var proven = await market.NewProviderAsync(model, ProviderMode.Complete, priceIn: 3 * Ait, priceOut: 7 * Ait, concurrency: 64);
        using var client = await market.NewClientAsync(1_000 * Ait);
        for (var i = 0; i < market.Options.ProbationJobs; i++)
        {
            var job = await client.SubmitCreatedAsync(model);
            await client.LockAsync(market.Node, job);
            await market.WaitForStateAsync(Id(job), JobStates.Completed, proven);
        }
        await MarketFixture.Eventually(async () => (await RecordAsync(proven)).GetProperty("completed").GetInt32() == market.Options.ProbationJobs, "proven");

        // Fresh addresses, far cheaper, nothing open: each would win on price.
        var fresh = new List<FakeProvider>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                fresh.Add(await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 1, priceOut: 1));
            }
            var share = market.Options.ProbationShare;
            var picks = new List<string>();
            for (var i = 0; i < 2 * share; i++)
            {
                picks.Add(ProviderOf(await client.SubmitCreatedAsync(model)));
            }
            Assert.Equal(2, picks.Count(p => p != proven.Address.ToString()));
            Assert.Equal((2 * share) - 2, picks.Count(p => p == proven.Address.ToString()));
        }
        finally
        {
            foreach (var p in fresh)
            {
                await p.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Attack09_NewProviderAddressesAreLimitedPerClientNetwork()
    {
        var model = market.NewModel();
        await using var limited = await market.StartCoordinatorAsync(o => o.NewProvidersPerNetworkPerHour = 2);
        var providers = Enumerable.Range(0, 3)
            .Select(_ => new FakeProvider(TestKeys.Fresh(), limited.Uri, market.Node.Client, ChainNode.ChainId, market.Time, [(model, 1UL, 1UL)], 1)).ToList();
        try
        {
            (await providers[0].RegisterAsync()).Expect(HttpStatusCode.OK);
            (await providers[1].RegisterAsync()).Expect(HttpStatusCode.OK);
            var refused = (await providers[2].RegisterAsync()).ExpectProblem(HttpStatusCode.TooManyRequests, "rate_limited");
            Assert.Contains("new provider addresses", refused.Detail, StringComparison.Ordinal);
            Assert.Null(await market.DbAsync(db => db.Providers.AsNoTracking().FirstOrDefaultAsync(p => p.Address == providers[2].Address.ToString())));
            // A known address registers again freely.
            (await providers[0].RegisterAsync()).Expect(HttpStatusCode.OK);
            // An hour refills the network's allowance.
            market.Time.Advance(TimeSpan.FromMinutes(31));
            (await providers[2].RegisterAsync()).Expect(HttpStatusCode.OK);
        }
        finally
        {
            foreach (var p in providers)
            {
                await p.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Attack08_AStrangersEventStreamRequestTakesNoSlotBeforeItsPartInTheJobIsChecked()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        await using var capped = await market.StartCoordinatorAsync(o => o.MaxEventStreamsPerIp = 1);
        using var client = new MarketAgent(TestKeys.Fresh(), capped.Uri, market.Time);
        using var stranger = new MarketAgent(TestKeys.Fresh(), capped.Uri, market.Time);
        var id = Id((await client.SubmitAsync(model, Prompt)).Expect(HttpStatusCode.Created));

        await using var open = await SseStream.OpenAsync(client.Http, id);
        // The network's one slot is taken; a stranger from it is told the job is not theirs, not that slots are full.
        (await stranger.GetAsync($"/v1/jobs/{id}/events")).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        (await stranger.GetAsync("/v1/jobs/job-none/events")).ExpectProblem(HttpStatusCode.NotFound, "job_not_found");
        (await client.GetAsync($"/v1/jobs/{id}/events")).ExpectProblem(HttpStatusCode.TooManyRequests, "too_many_streams");
        Assert.Equal(JobStates.AwaitingPayment, (await RowAsync(id)).State);
    }
}

/// <summary>The client network every per-IP limit is keyed by (attack 8: rotating addresses within an IPv6 /64).</summary>
public sealed class ClientNetworkTests
{
    [Fact]
    public void Attack08_AddressesOfOneIpv6Slash64AreOneNetworkAndMappedIpv4IsFoldedToIpv4()
    {
        static string Of(string ip) => ClientNetwork.Of(IPAddress.Parse(ip)).ToString();

        Assert.Equal(Of("2001:db8:1:2::1"), Of("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        Assert.Equal("2001:db8:1:2::", Of("2001:db8:1:2:abcd::17"));
        Assert.NotEqual(Of("2001:db8:1:2::1"), Of("2001:db8:1:3::1"));
        Assert.Equal("203.0.113.7", Of("::ffff:203.0.113.7"));
        Assert.Equal("203.0.113.7", Of("203.0.113.7"));
        Assert.NotEqual(Of("203.0.113.7"), Of("203.0.113.8"));
        Assert.Equal(IPAddress.None, ClientNetwork.Of((IPAddress?)null));
        Assert.Equal("::", Of("::1"));
    }
}
