using System.Runtime.CompilerServices;
using System.Text.Json;
using Aitbc.Provider.Tests.Infrastructure;
using static Aitbc.Provider.Tests.Infrastructure.HostileSetup;

namespace Aitbc.Provider.Tests.Security;

/// <summary>
/// Attacks 4 and 5 (docs/security.md): the coordinator (or whoever holds the provider's dispatch connection) writes
/// the job messages, so nothing in them may decide what the provider is paid or what it refunds. The
/// coordinator here is <see cref="HostileCoordinator"/>, forging messages; node, chain and provider are real.
/// </summary>
public sealed class DispatchAttackTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private static readonly Amount Cheap = new(1);
    private Market Market => fixture.Market;

    [Fact]
    public async Task Attack04_A_dispatch_naming_lower_prices_and_amount_than_the_providers_own_is_refused_and_nothing_moves()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack04-low");
        using var client = await Market.NewClientAsync(ClientFunds);
        // The client locked what the forged message names: the job priced at 1 base unit per million tokens.
        var lowered = Pricing.Cost(Bound, MaxTokens, Cheap, Cheap)!.Value;
        var jobId = "attack04-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, lowered, expiresAt));

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, inputTokenBound: 1, Cheap, Cheap, lowered, expiresAt));
        var reject = await setup.WaitForMessageAsync(jobId, "reject");
        await setup.WaitUntilIdleAsync();

        Assert.Contains($"less than the quoted price {Quote}", reject.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Empty(setup.Hostile.MessagesFor(jobId, "accept"));
        Assert.Empty(setup.StandIn.InferenceRequests);
        Assert.Empty(setup.Hostile.PostedResults);
        Assert.Empty(setup.Hostile.PostedFailures);
        // No settle, no refund: the escrow is locked as it was, the provider sent nothing, the client paid only its lock.
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("locked", escrow!.Status);
        Assert.Equal(lowered, escrow.Amount);
        Assert.Equal(Amount.Zero, escrow.Paid);
        await setup.AssertProviderAccountAsync(ProviderFunds, nonce: 0);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - lowered.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task Attack04_A_dispatch_naming_a_lower_amount_and_input_bound_is_metered_and_settled_at_the_providers_own_prices()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack04-meter");
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack04-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, expiresAt));

        // The escrow covers the provider's own quote; the message names an input bound of 1 token and an amount of 1 unit.
        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, inputTokenBound: 1, Market.PriceIn, Market.PriceOut, Cheap, expiresAt));
        await setup.WaitForMessageAsync(jobId, "accept");
        await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == jobId), "the result", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        using var posted = JsonDocument.Parse(setup.Hostile.PostedResults.Single(r => r.JobId == jobId).Body);
        Assert.True(UsageReceipt.TryParse(posted.RootElement.GetProperty("receipt"), out var receipt, out var why), why);
        var (tokens, promptTokens, _) = OllamaStandIn.Generate(Prompt, MaxTokens);
        Assert.Equal(promptTokens, receipt.TokensIn);
        Assert.Equal(Pricing.Cost(promptTokens, tokens.Count, Market.PriceIn, Market.PriceOut), receipt.Amount);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(receipt.Amount, escrow.Paid);
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units + receipt.Amount.Units - TestChain.Fee.Units), nonce: 1);
    }

    [Fact]
    public async Task Attack04_A_dispatch_naming_other_prices_than_the_providers_own_is_refused_before_any_work_and_its_escrow_given_back()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack04-other");
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack04-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, expiresAt));

        // Enough money locked, but the coordinator's prices for this provider are not its own (stale or forged): the coordinator
        // would refuse a receipt metered at the provider's prices, so the work could be paid and never delivered.
        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Cheap, Cheap, Quote, expiresAt));
        var reject = await setup.WaitForMessageAsync(jobId, "reject");
        await setup.WaitUntilIdleAsync();
        await Eventually.TrueAsync(async () => (await Market.Chain.EscrowAsync(jobId))!.Status == "refunded", "the refund", () => Market.Logs.Text);

        Assert.Contains($"this provider's are {Market.PriceIn}/{Market.PriceOut}", reject.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Empty(setup.StandIn.InferenceRequests);
        Assert.Empty(setup.Hostile.PostedResults);
        Assert.Equal(Amount.Zero, (await Market.Chain.EscrowAsync(jobId))!.Paid);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units - TestChain.Fee.Units), nonce: 1);
    }

    [Fact]
    public async Task Attack05_A_replayed_dispatch_of_a_running_then_completed_job_refunds_nothing()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack05-replay");
        setup.StandIn.LineDelay = TimeSpan.FromMilliseconds(100);
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack05-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, expiresAt));
        var message = HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, expiresAt);
        await setup.Hostile.DispatchAsync(message);
        await setup.WaitForMessageAsync(jobId, "accept");
        await setup.StandIn.FirstLineSent;

        // While it runs: the same dispatch again.
        await setup.Hostile.DispatchAsync(message);
        var running = await setup.WaitForMessageAsync(jobId, "reject");
        await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == jobId), "the result", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        Assert.Contains("already running", running.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        var paid = escrow.Paid;
        Assert.True(paid > Amount.Zero);
        var providerAfter = new Amount(ProviderFunds.Units + paid.Units - TestChain.Fee.Units);
        await setup.AssertProviderAccountAsync(providerAfter, nonce: 1);

        // Once it is done: once more.
        await setup.Hostile.DispatchAsync(message);
        await Eventually.TrueAsync(() => setup.Hostile.MessagesFor(jobId, "reject").Count == 2, "the second reject", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        Assert.Contains("is settled", setup.Hostile.MessagesFor(jobId, "reject")[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Single(setup.StandIn.InferenceRequests);
        Assert.Single(setup.Hostile.PostedResults);
        Assert.Equal(paid, (await Market.Chain.EscrowAsync(jobId))!.Paid);
        await setup.AssertProviderAccountAsync(providerAfter, nonce: 1);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - paid.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task Attack05_A_dispatch_naming_another_clients_escrow_refunds_nothing()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack05-other");
        using var victim = await Market.NewClientAsync(ClientFunds);
        using var attacker = Ed25519Key.Generate();
        var jobId = "attack05-" + Guid.NewGuid().ToString("N");
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        await Market.Chain.CommitAsync(victim.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, expiresAt));

        // The victim's escrow, under a job that names another client and a model this provider does not serve.
        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, attacker.Address, "no-such-model", "sha256:00", Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, expiresAt));
        var reject = await setup.WaitForMessageAsync(jobId, "reject");
        await setup.WaitUntilIdleAsync();

        Assert.Contains($"not by the job's client {attacker.Address}", reject.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Empty(setup.StandIn.InferenceRequests);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("locked", escrow!.Status);
        Assert.Equal(victim.Address, escrow.Client);
        await setup.AssertProviderAccountAsync(ProviderFunds, nonce: 0);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - Quote.Units, (await Market.Chain.BalanceAsync(victim.Address)).Units);

        // The same escrow under its own client: checked and this job's, so refusing it (a model not served here) gives it back at once.
        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, victim.Address, "no-such-model", "sha256:00", Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, expiresAt));
        await Eventually.TrueAsync(() => setup.Hostile.MessagesFor(jobId, "reject").Count == 2, "the second reject", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();
        await Eventually.TrueAsync(async () => (await Market.Chain.EscrowAsync(jobId))!.Status == "refunded", "the refund", () => Market.Logs.Text);

        Assert.Contains("does not serve model", setup.Hostile.MessagesFor(jobId, "reject")[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(victim.Address)).Units);
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units - TestChain.Fee.Units), nonce: 1);
    }
}
