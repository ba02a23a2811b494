using Aitbc.Core;

namespace Aitbc.Coordinator.Client;

/// <summary>One model a provider offers, at its prices (base units per million tokens). Missing fields are refused by the coordinator.</summary>
public sealed record ModelOffer(string? Model, string? Digest, Amount? PriceIn, Amount? PriceOut);

/// <summary><c>POST /v1/providers/register</c>, signed by the provider: replaces its offers.</summary>
public sealed record RegisterProviderRequest(IReadOnlyList<ModelOffer>? Models, int Concurrency, string? Region, string? Gpu);

/// <summary>The answer to a heartbeat.</summary>
public sealed record HeartbeatResponse(string Address, string Status, int NextHeartbeatWithinSeconds);

/// <summary>A live offer of a provider.</summary>
public sealed record OfferView(string Model, string Digest, Amount PriceIn, Amount PriceOut, long ExpiresAt);

/// <summary>A provider's record, from what the coordinator saw and verified; <see cref="Score"/> orders offers of equal price.</summary>
public sealed record ProviderRecordView(int Completed, int Failed, int TimedOut, int Overcharged, double? MedianTimeToFirstTokenMs, double? MedianTokensPerSecond,
    double Score);

/// <summary><c>GET /v1/providers/{address}</c> (and the answer to a registration).</summary>
public sealed record ProviderView(string Address, string Status, string Region, string Gpu, int Concurrency, int Running, long LastHeartbeat,
    IReadOnlyList<OfferView> Offers, ProviderRecordView Record);

/// <summary>A provider of a model in the catalog.</summary>
public sealed record CatalogProvider(string Address, string Digest, Amount PriceIn, Amount PriceOut, int FreeCapacity, string Region, string Gpu);

/// <summary>A model in the catalog: its digests, price ranges and free capacity over every live offer.</summary>
public sealed record CatalogModel(string Model, IReadOnlyList<string> Digests, Amount MinPriceIn, Amount MaxPriceIn, Amount MinPriceOut, Amount MaxPriceOut,
    int FreeCapacity, IReadOnlyList<CatalogProvider> Providers);

/// <summary><c>GET /v1/models</c>: the live catalog.</summary>
public sealed record ModelCatalog(IReadOnlyList<CatalogModel> Models);
