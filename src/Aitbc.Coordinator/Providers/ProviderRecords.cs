using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Providers;

/// <summary>
/// A provider's record, from what the coordinator saw and verified: jobs completed (with a verified
/// receipt), failed, timed out; median time to first token (coordinator-observed) and tokens per
/// second (receipt tokens over coordinator-observed streaming time). Nothing a provider can write about itself.
/// </summary>
public sealed record ProviderRecord(int Completed, int Failed, int TimedOut, double? MedianTimeToFirstTokenMs, double? MedianTokensPerSecond)
{
    /// <summary>For ordering offers of equal price: completed share of jobs, with no history counted as neutral.</summary>
    public double Score => Completed + Failed + TimedOut == 0 ? 0.5 : (double)Completed / (Completed + Failed + TimedOut);
}

/// <summary>
/// Records for ordering offers of equal price, recomputed at most every few seconds per provider: a
/// record reads every finished job of its provider, too much for every submission.
/// </summary>
internal sealed class ProviderRecordCache(IServiceScopeFactory scopes, MarketClock clock)
{
    private const long MaxAgeMs = 5_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (ProviderRecord Record, long At)> _records = new(StringComparer.Ordinal);

    public async Task<ProviderRecord> GetAsync(string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        if (_records.TryGetValue(provider, out var cached) && now - cached.At < MaxAgeMs)
        {
            return cached.Record;
        }
        await using var scope = scopes.CreateAsyncScope();
        var record = await ProviderRecords.ForAsync(scope.ServiceProvider.GetRequiredService<CoordinatorDb>(), provider, ct);
        _records[provider] = (record, now);
        return record;
    }
}

internal static class ProviderRecords
{
    public const string AcceptTimeout = "accept_timeout";
    public const string Timeout = "timeout";

    public static async Task<ProviderRecord> ForAsync(CoordinatorDb db, string provider, CancellationToken ct)
    {
        var finished = await db.Jobs.AsNoTracking()
            .Where(j => j.Provider == provider && (j.State == JobStates.Completed || j.State == JobStates.Failed))
            .Select(j => new { j.State, j.FailureCode, j.AcceptedAt, j.FirstTokenAt, j.FinishedAt, j.TokensOut, j.Receipt })
            .ToListAsync(ct);
        var completed = finished.Where(j => j.State == JobStates.Completed && j.Receipt != null).ToList();
        var timedOut = finished.Count(j => j.State == JobStates.Failed && j.FailureCode is AcceptTimeout or Timeout);
        var failed = finished.Count(j => j.State == JobStates.Failed && j.FailureCode is "provider_failed" or "provider_rejected");
        var ttft = completed.Where(j => j.FirstTokenAt is not null && j.AcceptedAt is not null).Select(j => (double)(j.FirstTokenAt!.Value - j.AcceptedAt!.Value));
        var tps = completed.Where(j => j.FirstTokenAt is not null && j.FinishedAt > j.FirstTokenAt && j.TokensOut > 0)
            .Select(j => j.TokensOut!.Value * 1000.0 / (j.FinishedAt!.Value - j.FirstTokenAt!.Value));
        return new ProviderRecord(completed.Count, failed, timedOut, Median(ttft), Median(tps));
    }

    private static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? null : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
