using System.Net;
using Aitbc.ServiceDefaults.Networks;

namespace Aitbc.Coordinator.Providers;

/// <summary>
/// New provider addresses registered per client network (<see cref="ClientNetwork"/>: an IPv4 address, an IPv6 /64):
/// <see cref="CoordinatorOptions.NewProvidersPerNetworkPerHour"/> at once, refilled evenly over the hour. A key costs
/// nothing to make, so fresh addresses (each new, each on probation) are limited where they come from. The table is
/// bounded (<see cref="MaxNetworks"/>, networks whose allowance is back forgotten first; while it is full of busy ones, a
/// new network waits).
/// </summary>
internal sealed class NewProviderLimits(CoordinatorOptions options, MarketClock clock)
{
    public const int MaxNetworks = 100_000;
    private readonly RateLimits<IPAddress> _byNetwork =
        new(options.NewProvidersPerNetworkPerHour > 0 ? TimeSpan.FromHours(1) / options.NewProvidersPerNetworkPerHour : TimeSpan.Zero, options.NewProvidersPerNetworkPerHour, MaxNetworks, clock.Time);

    /// <summary>Takes one registration of a new address for <paramref name="network"/>: null when taken, else the wait.</summary>
    public TimeSpan? TryTake(IPAddress network) => _byNetwork.TryTake(network, 1, out var wait) ? null : wait;
}
