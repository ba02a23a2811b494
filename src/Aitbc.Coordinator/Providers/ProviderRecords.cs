using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Providers;

/// <summary>
/// A provider's record, from what the coordinator saw and verified: jobs completed (with a verified
/// receipt), failed, timed out; overcharged: its settle on the chain took more than its verified receipt
/// says, or took anything for a job it did not complete; median time to first token (coordinator-observed)
/// and tokens per second (receipt tokens over coordinator-observed streaming time). Nothing a provider can
/// write about itself.
/// </summary>
public sealed record ProviderRecord(int Completed, int Failed, int TimedOut, int Overcharged, double? MedianTimeToFirstTokenMs, double? MedianTokensPerSecond)
{
    /// <summary>Jobs that count for the score, each once: completed, failed, timed out or overcharged.</summary>
    internal int Counted { get; init; }

    /// <summary>Of those, the jobs completed and charged no more than their verified receipt.</summary>
    internal int Good { get; init; }

    /// <summary>Dispatches that timed out or failed since the provider's last completed job.</summary>
    internal int FailStreak { get; init; }

    /// <summary>When the last of those finished (Unix ms).</summary>
    internal long LastFailureAt { get; init; }

    /// <summary>For ordering offers of equal price: the share of good jobs among those counted; no history counts as neutral.</summary>
    public double Score => Counted == 0 ? 0.5 : (double)Good / Counted;

    /// <summary>
    /// Until when (Unix ms) the provider is out of matching: <c>cooldown × 2^(streak−1)</c> (at most <c>max</c>) after its
    /// last timed-out or failed dispatch, while no completed job followed; 0 when it is not cooling down.
    /// </summary>
    internal long CooldownUntil(int cooldownSeconds, int maxCooldownSeconds) =>
        FailStreak == 0 ? 0 : LastFailureAt + (long)(1000 * Math.Min(maxCooldownSeconds, cooldownSeconds * Math.Pow(2, Math.Min(FailStreak - 1, 30))));
}

/// <summary>
/// Records for matching and for <c>GET /v1/providers/{address}</c>, recomputed at most every few seconds per provider
/// (a record reads every finished job of its provider, too much for every request), and at once after this instance
/// finished one of the provider's jobs or saw its settle. Concurrent readers of a stale record share one query.
/// </summary>
internal sealed class ProviderRecordCache(IServiceScopeFactory scopes, MarketClock clock)
{
    private const long MaxAgeMs = 5_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (Task<ProviderRecord> Record, long At)> _records = new(StringComparer.Ordinal);

    public async Task<ProviderRecord> GetAsync(string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        if (_records.TryGetValue(provider, out var cached) && now - cached.At < MaxAgeMs && !cached.Record.IsFaulted && !cached.Record.IsCanceled)
        {
            return await cached.Record.WaitAsync(ct);
        }
        var fresh = (Record: LoadAsync(provider), At: now);
        var entry = _records.AddOrUpdate(provider, fresh, (_, old) => old.At == cached.At && old.Record == cached.Record ? fresh : old);
        return await entry.Record.WaitAsync(ct);
    }

    /// <summary>The provider's record changed (a job finished, a settle was seen): the next read recomputes it.</summary>
    public void Invalidate(string provider) => _records.TryRemove(provider, out _);

    private async Task<ProviderRecord> LoadAsync(string provider)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await ProviderRecords.ForAsync(scope.ServiceProvider.GetRequiredService<CoordinatorDb>(), provider, CancellationToken.None);
    }
}

internal static class ProviderRecords
{
    public static async Task<ProviderRecord> ForAsync(CoordinatorDb db, string provider, CancellationToken ct)
    {
        var finished = await db.Jobs.AsNoTracking()
            .Where(j => j.Provider == provider && (j.State == JobStates.Completed || j.State == JobStates.Failed ||
                ((j.State == JobStates.Expired || j.State == JobStates.Canceled) && j.ChargedAmount > 0)))
            .Select(j => new { j.State, j.FailureCode, j.FundedAt, j.AcceptedAt, j.FirstTokenAt, j.FinishedAt, j.TokensIn, j.TokensOut, j.Receipt, j.ChargedAmount,
                j.PriceIn, j.PriceOut, j.Amount })
            .ToListAsync(ct);
        finished.Sort((a, b) => Nullable.Compare(a.FinishedAt, b.FinishedAt));
        var completed = finished.Where(j => j.State == JobStates.Completed && j.Receipt != null).ToList();
        int failed = 0, timedOut = 0, overcharged = 0, counted = 0, good = 0, streak = 0;
        long lastFailureAt = 0;
        foreach (var j in finished)
        {
            var done = j.State == JobStates.Completed && j.Receipt != null;
            // What the verified receipt charges is fixed by its token counts and the quoted prices (ReceiptCheck): the
            // metered cost, capped at the escrow. A settle above it, or any settle of a job not completed, overcharged.
            var over = j.ChargedAmount is { } charged && charged > 0 && (!done ||
                (ulong)charged > Math.Min(Pricing.Cost(j.TokensIn ?? 0, j.TokensOut ?? 0, new Amount((ulong)j.PriceIn), new Amount((ulong)j.PriceOut))?.Units ?? ulong.MaxValue,
                    (ulong)j.Amount));
            var isFailed = j.State == JobStates.Failed && FailureCode.IsProviderFailure(j.FailureCode, funded: j.FundedAt != null);
            var isTimedOut = j.State == JobStates.Failed && FailureCode.IsTimeout(j.FailureCode);
            failed += isFailed ? 1 : 0;
            timedOut += isTimedOut ? 1 : 0;
            overcharged += over ? 1 : 0;
            counted += done || isFailed || isTimedOut || over ? 1 : 0;
            good += done && !over ? 1 : 0;
            // In the order they finished: a completed job ends a run of failures.
            if (done)
            {
                streak = 0;
            }
            else if (isFailed || isTimedOut)
            {
                streak++;
                lastFailureAt = j.FinishedAt ?? 0;
            }
        }
        var ttft = completed.Where(j => j.FirstTokenAt is not null && j.AcceptedAt is not null).Select(j => (double)(j.FirstTokenAt!.Value - j.AcceptedAt!.Value));
        var tps = completed.Where(j => j.FirstTokenAt is not null && j.FinishedAt > j.FirstTokenAt && j.TokensOut > 0)
            .Select(j => j.TokensOut!.Value * 1000.0 / (j.FinishedAt!.Value - j.FirstTokenAt!.Value));
        return new ProviderRecord(completed.Count, failed, timedOut, overcharged, Median(ttft), Median(tps)) { Counted = counted, Good = good, FailStreak = streak, LastFailureAt = lastFailureAt };
    }

    private static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? null : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
