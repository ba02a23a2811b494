using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// A funded provider (so that a refund it sent would go through) working for a hostile coordinator, with the
/// Ollama stand-in as its backend; and the job the attacks on it dispatch (<c>using static</c> in those tests).
/// </summary>
internal sealed class HostileSetup : IAsyncDisposable
{
    public static readonly Amount ClientFunds = Amount.FromAit(1);
    public static readonly Amount ProviderFunds = new(10_000_000);
    public const string Prompt = "Which prices does a provider charge for its work?";
    public const int MaxTokens = 32;
    public static readonly int Bound = Pricing.InputTokenBound([Prompt]);
    public static readonly Amount Quote = Pricing.Cost(Bound, MaxTokens, Market.PriceIn, Market.PriceOut)!.Value;
    private Market _market = null!;

    public Ed25519Key Key { get; } = Ed25519Key.Generate();

    public OllamaStandIn StandIn { get; private set; } = null!;

    public HostileCoordinator Hostile { get; private set; } = null!;

    public ProviderServer Provider { get; private set; } = null!;

    public static async Task<HostileSetup> StartAsync(Market market, string model, Action<ProviderOptions>? configure = null)
    {
        var setup = new HostileSetup { _market = market };
        setup.StandIn = await OllamaStandIn.StartAsync(model);
        setup.Hostile = await HostileCoordinator.StartAsync();
        await market.Chain.FundAsync(setup.Key.Address, ProviderFunds);
        setup.Provider = await market.StartProviderAsync(setup.Key, setup.StandIn, o =>
        {
            o.Coordinator = setup.Hostile.Uri.ToString();
            configure?.Invoke(o);
        });
        await Eventually.TrueAsync(() => setup.Hostile.Connected, "the dispatch connection at the hostile coordinator", () => market.Logs.Text);
        return setup;
    }

    public async Task<JsonElement> WaitForMessageAsync(string jobId, string type) =>
        (await Eventually.GetAsync(() => Task.FromResult(Hostile.MessagesFor(jobId, type) is [var m, ..] ? new StrongBox<JsonElement>(m) : null),
            $"a {type} of {jobId}", () => _market.Logs.Text)).Value;

    /// <summary>Until the provider has finished with every dispatch it got (refunds included).</summary>
    public Task WaitUntilIdleAsync() => Eventually.TrueAsync(() => Provider.JobsInHand == 0, "the provider to finish its dispatches", () => _market.Logs.Text);

    public async Task AssertProviderAccountAsync(Amount balance, long nonce)
    {
        var account = await _market.Chain.Client.AccountAsync(Key.Address);
        Assert.Equal(balance, account.Balance);
        Assert.Equal(nonce, account.Nonce);
        Assert.Equal(nonce, account.NextNonce);
    }

    public async ValueTask DisposeAsync()
    {
        await Provider.DisposeAsync();
        await Hostile.DisposeAsync();
        await StandIn.DisposeAsync();
        Key.Dispose();
    }
}
