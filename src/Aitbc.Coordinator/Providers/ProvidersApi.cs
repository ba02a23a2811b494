using System.Text.Json;
using Aitbc.Coordinator.Auth;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aitbc.Coordinator.Providers;

/// <summary>Providers register their models and prices, heartbeat to stay online, and deregister. Every call is signed by the provider's key.</summary>
internal static class ProvidersApi
{
    public static RouteGroupBuilder MapProvidersApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/providers/register", Register).RequireSignature().Accepts<RegisterProviderRequest>("application/json").WithName("RegisterProvider")
            .WithSummary("{models:[{model, digest, priceIn, priceOut}], concurrency, region, gpu}: replaces the provider's offers.");
        v1.MapPost("/providers/heartbeat", Heartbeat).RequireSignature().WithName("Heartbeat").WithSummary("Stay online; renews the offers.");
        v1.MapPost("/providers/deregister", Deregister).RequireSignature().WithName("DeregisterProvider");
        v1.MapGet("/providers/{address}", Get).WithName("GetProvider").WithSummary("A provider, its offers and its record from verified receipts.");
        v1.MapGet("/models", Catalog).WithName("Models").WithSummary("The live catalog: per model, providers, price range, free capacity.");
        return v1;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    // The body is read by the signature check (it is what was signed), then bound strictly here: no unknown field.
    private static async Task<Results<Ok<ProviderView>, ProblemHttpResult>> Register(HttpContext http, CoordinatorDb db, MarketBook book, MarketClock clock, CoordinatorOptions options,
        ProviderRecordCache records, NewProviderLimits newProviders)
    {
        var signed = SignedRequests.Of(http);
        RegisterProviderRequest? req;
        try
        {
            req = JsonSerializer.Deserialize<RegisterProviderRequest>(signed.Body, Json);
        }
        catch (JsonException e)
        {
            return Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        if (req?.Models is not { Count: > 0 and <= 64 } models)
        {
            return Problems.Of(MarketErrors.InvalidOffer, "models must list 1 to 64 offers");
        }
        if (req.Concurrency is < 1 or > 1024)
        {
            return Problems.Of(MarketErrors.InvalidOffer, "concurrency must be from 1 to 1024");
        }
        foreach (var m in models)
        {
            if (string.IsNullOrWhiteSpace(m.Model) || m.Model.Length > 256 || string.IsNullOrWhiteSpace(m.Digest) || m.Digest.Length > 256 ||
                !MarketText.IsName(m.Model) || !MarketText.IsName(m.Digest))
            {
                return Problems.Of(MarketErrors.InvalidOffer, "each offer names a model and its digest (at most 256 characters each, no control characters)");
            }
            if (m.PriceIn is not { } pin || m.PriceOut is not { } pout || pin.Units > long.MaxValue || pout.Units > long.MaxValue)
            {
                return Problems.Of(MarketErrors.InvalidOffer, $"offer '{m.Model}' needs priceIn and priceOut (base units per million tokens, at most 2^63-1)");
            }
        }
        if (models.Select(m => m.Model).Distinct(StringComparer.Ordinal).Count() != models.Count)
        {
            return Problems.Of(MarketErrors.InvalidOffer, "a model is listed twice");
        }
        var now = clock.NowMs;
        var address = signed.Signer.ToString();
        var provider = await db.Providers.Include(p => p.Offers).FirstOrDefaultAsync(p => p.Address == address, http.RequestAborted);
        if (provider is null)
        {
            // A new address: each is on probation, and they cost nothing to make; limited per client network.
            if (newProviders.TryTake(Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(http)) is { } wait)
            {
                Aitbc.ServiceDefaults.Networks.RetryAfter.Set(http.Response, wait);
                return Problems.Of(MarketErrors.RateLimited,
                    $"more than {options.NewProvidersPerNetworkPerHour} new provider addresses an hour from this network; registering again with a known address is not limited");
            }
            provider = new ProviderEntity { Address = address, Region = "", Gpu = "", Status = ProviderStatuses.Online, RegisteredAt = now };
            db.Providers.Add(provider);
        }
        provider.Region = Clip(req.Region, 64);
        provider.Gpu = Clip(req.Gpu, 128);
        provider.Concurrency = req.Concurrency;
        provider.LastHeartbeat = now;
        if (provider.Status == ProviderStatuses.Suspended)
        {
            return Problems.Of(MarketErrors.Suspended, $"{address} was taken off the market by the operator");
        }
        provider.Status = ProviderStatuses.Online;
        db.Offers.RemoveRange(provider.Offers);
        provider.Offers = [.. models.Select(m => new OfferEntity
        {
            ProviderAddress = address,
            Model = m.Model!,
            ModelDigest = m.Digest!,
            PriceIn = (long)m.PriceIn!.Value.Units,
            PriceOut = (long)m.PriceOut!.Value.Units,
            ExpiresAt = now + (options.OfferTtlSeconds * 1000L),
        })];
        await db.SaveChangesAsync(http.RequestAborted);
        book.Invalidate();
        return TypedResults.Ok(await Describe(db, records, provider.Address, clock, http.RequestAborted)
            ?? throw new InvalidOperationException("a provider just saved cannot be read"));
    }

    /// <summary>A free-text label, trimmed and cut to the column's length.</summary>
    private static string Clip(string? text, int max)
    {
        var t = MarketText.Storable(text ?? "").Trim();
        return t.Length <= max ? t : t[..max];
    }

    private static async Task<Results<Ok<HeartbeatResponse>, ProblemHttpResult>> Heartbeat(HttpContext http, CoordinatorDb db, MarketBook book, MarketClock clock, CoordinatorOptions options)
    {
        var address = SignedRequests.Of(http).Signer.ToString();
        var now = clock.NowMs;
        // Online stays online (the common case: nothing the market book holds changes but the offers' expiry, which
        // the book's age covers); offline comes back, and the book is told. Suspended and deregistered stay as they are.
        var ct = http.RequestAborted;
        var cameBack = false;
        try
        {
            if (await db.Providers.Where(p => p.Address == address && p.Status == ProviderStatuses.Online)
                    .ExecuteUpdateAsync(s => s.SetProperty(p => p.LastHeartbeat, now), ct) == 0)
            {
                if (await db.Providers.Where(p => p.Address == address && p.Status == ProviderStatuses.Offline)
                        .ExecuteUpdateAsync(s => s.SetProperty(p => p.LastHeartbeat, now).SetProperty(p => p.Status, ProviderStatuses.Online), ct) == 0)
                {
                    return await db.Providers.AnyAsync(p => p.Address == address && p.Status == ProviderStatuses.Suspended, ct)
                        ? Problems.Of(MarketErrors.Suspended, $"{address} was taken off the market by the operator")
                        : Problems.Of(MarketErrors.UnknownProvider, $"{address} is not registered: register first");
                }
                cameBack = true;
            }
            await db.Offers.Where(o => o.ProviderAddress == address)
                .ExecuteUpdateAsync(s => s.SetProperty(o => o.ExpiresAt, now + (options.OfferTtlSeconds * 1000L)), ct);
        }
        finally
        {
            if (cameBack)
            {
                book.Invalidate();
            }
        }
        return TypedResults.Ok(new HeartbeatResponse(address, ProviderStatuses.Online, options.HeartbeatTimeoutSeconds));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Deregister(HttpContext http, CoordinatorDb db, MarketBook book)
    {
        var address = SignedRequests.Of(http).Signer.ToString();
        int updated;
        try
        {
            await db.Offers.Where(o => o.ProviderAddress == address).ExecuteDeleteAsync(http.RequestAborted);
            updated = await db.Providers.Where(p => p.Address == address)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.Status, ProviderStatuses.Deregistered), http.RequestAborted);
        }
        finally
        {
            book.Invalidate();
        }
        return updated == 0 ? Problems.Of(MarketErrors.UnknownProvider, $"{address} is not registered") : TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ProviderView>, ProblemHttpResult>> Get(string address, CoordinatorDb db, ProviderRecordCache records, MarketClock clock, CancellationToken ct)
    {
        if (!Address.TryParse(address, out _, out var why))
        {
            return Problems.Of(MarketErrors.InvalidAddress, why);
        }
        var d = await Describe(db, records, address, clock, ct);
        return d is null ? Problems.Of(MarketErrors.UnknownProvider, $"{address} is not registered") : TypedResults.Ok(d);
    }

    private static async Task<ProviderView?> Describe(CoordinatorDb db, ProviderRecordCache records, string address, MarketClock clock, CancellationToken ct)
    {
        var p = await db.Providers.AsNoTracking().Include(x => x.Offers).FirstOrDefaultAsync(x => x.Address == address, ct);
        if (p is null)
        {
            return null;
        }
        var running = await db.Jobs.CountAsync(j => j.Provider == address && (j.State == JobStates.Dispatched || j.State == JobStates.Running), ct);
        var record = await records.GetAsync(address, ct);
        return new ProviderView(p.Address, p.Status, p.Region, p.Gpu, p.Concurrency, running, p.LastHeartbeat,
            [.. p.Offers.Where(o => o.ExpiresAt > clock.NowMs).Select(o => new OfferView(o.Model, o.ModelDigest, new Amount((ulong)o.PriceIn), new Amount((ulong)o.PriceOut), o.ExpiresAt))],
            new ProviderRecordView(record.Completed, record.Failed, record.TimedOut, record.Overcharged, record.MedianTimeToFirstTokenMs,
                record.MedianTokensPerSecond, record.Score));
    }

    private static async Task<Ok<ModelCatalog>> Catalog(MarketBook book, MarketClock clock, CancellationToken ct)
    {
        var live = await book.OffersAsync(null, clock.NowMs, ct);
        var models = live.GroupBy(o => o.Offer.Model, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new CatalogModel(
            g.Key,
            [.. g.Select(o => o.Offer.ModelDigest).Distinct(StringComparer.Ordinal)],
            new Amount((ulong)g.Min(o => o.Offer.PriceIn)), new Amount((ulong)g.Max(o => o.Offer.PriceIn)),
            new Amount((ulong)g.Min(o => o.Offer.PriceOut)), new Amount((ulong)g.Max(o => o.Offer.PriceOut)),
            g.Sum(o => o.FreeCapacity),
            [.. g.OrderBy(o => o.Offer.PriceOut).ThenBy(o => o.Offer.PriceIn).Select(o => new CatalogProvider(o.Provider.Address, o.Offer.ModelDigest,
                new Amount((ulong)o.Offer.PriceIn), new Amount((ulong)o.Offer.PriceOut), o.FreeCapacity, o.Provider.Region, o.Provider.Gpu))])).ToList();
        return TypedResults.Ok(new ModelCatalog(models));
    }
}
