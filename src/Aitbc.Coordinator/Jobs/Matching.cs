using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;

namespace Aitbc.Coordinator.Jobs;

/// <summary>A live offer: its provider is online, the offer not expired; with the provider's free capacity.</summary>
internal sealed record LiveOffer(OfferEntity Offer, ProviderEntity Provider, int FreeCapacity);

/// <summary>Finding who can serve a model now.</summary>
internal static class Matching
{
    public static async Task<List<LiveOffer>> LiveOffersAsync(CoordinatorDb db, string? model, long now, CancellationToken ct)
    {
        var rows = await (from o in db.Offers.AsNoTracking()
                          join p in db.Providers.AsNoTracking() on o.ProviderAddress equals p.Address
                          where p.Status == ProviderStatuses.Online && o.ExpiresAt > now && (model == null || o.Model == model)
                          select new { o, p }).ToListAsync(ct);
        if (rows.Count == 0)
        {
            return [];
        }
        var addresses = rows.Select(r => r.p.Address).Distinct().ToList();
        var busy = await db.Jobs.AsNoTracking()
            .Where(j => addresses.Contains(j.Provider) && (j.State == JobStates.Funded || j.State == JobStates.Dispatched || j.State == JobStates.Running))
            .GroupBy(j => j.Provider).Select(g => new { Provider = g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Provider, x => x.Count, ct);
        return [.. rows.Select(r => new LiveOffer(r.o, r.p, Math.Max(0, r.p.Concurrency - busy.GetValueOrDefault(r.p.Address))))];
    }
}
