namespace Aitbc.Coordinator.Providers;

/// <summary>
/// New provider addresses registered per client network (<see cref="ServiceDefaults.Networks.ClientNetwork"/>: an IPv4 address, an
/// IPv6 /64): a token bucket of <see cref="CoordinatorOptions.NewProvidersPerNetworkPerHour"/>, refilled evenly over the
/// hour. A key costs nothing to make, so fresh addresses (each new, each on probation) are limited where they come from.
/// The table is bounded: when it is full, networks whose bucket has refilled (the same as unknown) are forgotten; while
/// it is full of busy ones, a new network waits.
/// </summary>
internal sealed class NewProviderLimits(CoordinatorOptions options, MarketClock clock)
{
    public const int MaxNetworks = 100_000;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (double Tokens, long At)> _byNetwork = new(StringComparer.Ordinal);

    /// <summary>Takes one registration of a new address for <paramref name="network"/>: null when taken, else the seconds to wait.</summary>
    public int? TryTake(string network)
    {
        var now = clock.NowMs;
        double capacity = options.NewProvidersPerNetworkPerHour;
        var perMs = capacity / 3_600_000.0;
        lock (_lock)
        {
            var known = _byNetwork.TryGetValue(network, out var bucket);
            var tokens = known ? Math.Min(capacity, bucket.Tokens + ((now - bucket.At) * perMs)) : capacity;
            if (tokens < 1)
            {
                return (int)Math.Max(1, Math.Ceiling((1 - tokens) / perMs / 1000));
            }
            if (!known && _byNetwork.Count >= MaxNetworks)
            {
                foreach (var (key, b) in _byNetwork)
                {
                    if (b.Tokens + ((now - b.At) * perMs) >= capacity)
                    {
                        _byNetwork.Remove(key);
                    }
                }
                if (_byNetwork.Count >= MaxNetworks)
                {
                    return 60;
                }
            }
            _byNetwork[network] = (tokens - 1, now);
            return null;
        }
    }
}
