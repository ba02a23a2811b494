using System.Text.Json;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>The amounts, prompt and job fields the market's test classes share (<c>using static</c> there).</summary>
internal static class MarketTerms
{
    public const ulong Ait = Amount.UnitsPerAit;

    /// <summary>What a test's client is given by the faucet.</summary>
    public const ulong Funded = 100 * Ait;

    public const string Prompt = "hello there market of gpus";

    /// <summary>A job's id, as the coordinator's answers carry it.</summary>
    public static string Id(JsonElement job) => MarketFixture.Id(job);

    public static string Id(Aitbc.Coordinator.Client.JobOffer offer) => offer.Id;

    public static string ProviderOf(JsonElement job) => job.GetProperty("provider").GetString()!;
}
