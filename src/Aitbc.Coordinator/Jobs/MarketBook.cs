using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Jobs;

/// <summary>A live offer: its provider is online, the offer not expired; with the provider's free capacity.</summary>
internal sealed record LiveOffer(OfferEntity Offer, ProviderEntity Provider, int FreeCapacity);

/// <summary>
/// Who can serve a model now: every online provider's offers with its free capacity, kept in memory so that a
/// submission and the catalog read no table. Rebuilt from the database (two queries) on the next read after
/// this instance changed a provider (register, heartbeat, deregister, offline, suspend) or a job's hold on
/// capacity (funded, or finished), and at least every <see cref="MaxAgeMs"/>: a change made by another
/// instance on the same database shows within that time. Offer expiry is checked at each read.
/// </summary>
internal sealed class MarketBook(IServiceScopeFactory scopes) : IDisposable
{
    public const int MaxAgeMs = 1_000;
    private readonly SemaphoreSlim _rebuild = new(1, 1);
    private long _version;
    private Snapshot? _current;

    private sealed record Snapshot(long Version, long BuiltAt, LiveOffer[] All, Dictionary<string, LiveOffer[]> ByModel);

    /// <summary>Something the book holds changed in the database: the next read rebuilds it.</summary>
    public void Invalidate() => Interlocked.Increment(ref _version);

    /// <summary>The live offers of <paramref name="model"/> (of every model when null) at <paramref name="now"/>.</summary>
    public async ValueTask<List<LiveOffer>> OffersAsync(string? model, long now, CancellationToken ct)
    {
        var snapshot = Fresh() ?? await RebuildAsync(ct);
        var offers = model is null ? snapshot.All : snapshot.ByModel.GetValueOrDefault(model, []);
        var live = new List<LiveOffer>(offers.Length);
        foreach (var o in offers)
        {
            if (o.Offer.ExpiresAt > now)
            {
                live.Add(o);
            }
        }
        return live;
    }

    public void Dispose() => _rebuild.Dispose();

    private Snapshot? Fresh()
    {
        var current = Volatile.Read(ref _current);
        return current is not null && current.Version == Interlocked.Read(ref _version) && Environment.TickCount64 - current.BuiltAt < MaxAgeMs
            ? current : null;
    }

    private async Task<Snapshot> RebuildAsync(CancellationToken ct)
    {
        await _rebuild.WaitAsync(ct);
        try
        {
            // Readers that queued behind one rebuild share it.
            if (Fresh() is { } built)
            {
                return built;
            }
            // Read before the queries: a change committed after this point bumps the version again.
            var version = Interlocked.Read(ref _version);
            var at = Environment.TickCount64;
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            var rows = await (from o in db.Offers.AsNoTracking()
                              join p in db.Providers.AsNoTracking() on o.ProviderAddress equals p.Address
                              where p.Status == ProviderStatuses.Online
                              select new { o, p }).ToListAsync(CancellationToken.None);
            var addresses = rows.Select(r => r.p.Address).Distinct().ToList();
            var busy = addresses.Count == 0 ? [] : await db.Jobs.AsNoTracking()
                .Where(j => addresses.Contains(j.Provider) && (j.State == JobStates.Funded || j.State == JobStates.Dispatched || j.State == JobStates.Running))
                .GroupBy(j => j.Provider).Select(g => new { Provider = g.Key, Count = g.Count() })
                .ToDictionaryAsync(x => x.Provider, x => x.Count, CancellationToken.None);
            LiveOffer[] all = [.. rows.Select(r => new LiveOffer(r.o, r.p, Math.Max(0, r.p.Concurrency - busy.GetValueOrDefault(r.p.Address))))];
            var snapshot = new Snapshot(version, at, all,
                all.GroupBy(o => o.Offer.Model, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal));
            Volatile.Write(ref _current, snapshot);
            return snapshot;
        }
        finally
        {
            _rebuild.Release();
        }
    }
}
