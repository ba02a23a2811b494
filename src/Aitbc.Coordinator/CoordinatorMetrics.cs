using System.Diagnostics.Metrics;
using Aitbc.Coordinator.Chain;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator;

/// <summary>
/// The coordinator's instruments on its own meter (<c>Aitbc.Coordinator</c>), exported on <c>/metrics</c>. Jobs by
/// state and providers online are read from the database when scraped (so every instance on one database shows the
/// same market); connections, streams and the chain follower are this instance's; dispatches are counted as they happen.
/// </summary>
internal sealed class CoordinatorMetrics
{
    public const string MeterName = "Aitbc.Coordinator";

    private static readonly string[] States =
        [JobStates.AwaitingPayment, JobStates.Funded, JobStates.Dispatched, JobStates.Running, JobStates.Completed, JobStates.Failed, JobStates.Expired, JobStates.Canceled];

    private readonly IServiceProvider _services;
    private long _dispatched;
    private readonly Histogram<double> _dispatchLatency;

    public CoordinatorMetrics(Meter meter, IServiceProvider services)
    {
        _services = services;
        // The parts are looked up when scraped: the dispatcher that feeds these counters is among them.
        meter.CreateObservableGauge("aitbc_jobs", JobsByState, description: "Jobs by state.");
        meter.CreateObservableGauge("aitbc_providers_online", ProvidersOnline, description: "Providers heartbeating.");
        meter.CreateObservableGauge("aitbc_provider_connections", () => Get<ProviderConnections>().Count, description: "Dispatch connections on this instance.");
        meter.CreateObservableGauge("aitbc_event_streams", () => Get<EventStreamSlots>().Open, description: "Open job event streams on this instance.");
        meter.CreateObservableGauge("aitbc_chain_connected", () => Get<ChainFollower>().Connected ? 1 : 0, description: "Whether the escrow stream is connected.");
        meter.CreateObservableCounter("aitbc_escrow_events", () => Get<ChainFollower>().EscrowsSeen, description: "Escrow changes seen on the chain.");
        meter.CreateObservableCounter("aitbc_chain_catch_up_calls", () => Get<ChainFollower>().CatchUpCalls,
            description: "Node calls made to catch up on escrows after a (re)connect.");
        // Counted here and observed, so that the series is there (at 0) from the first scrape.
        meter.CreateObservableCounter("aitbc_jobs_dispatched", () => Interlocked.Read(ref _dispatched), description: "Jobs dispatched by this instance.");
        _dispatchLatency = meter.CreateHistogram("aitbc_dispatch_latency_seconds", unit: "s", description: "From a job's funding to its dispatch to the provider.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    }

    /// <summary>A job handed to its provider's connection; the times are the job's (Unix ms, the market clock).</summary>
    public void Dispatched(long? fundedAt, long? dispatchedAt)
    {
        Interlocked.Increment(ref _dispatched);
        if (fundedAt is { } funded && dispatchedAt is { } dispatched)
        {
            _dispatchLatency.Record(Math.Max(0, dispatched - funded) / 1000.0);
        }
    }

    private T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    private IEnumerable<Measurement<long>> JobsByState()
    {
        using var scope = _services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var counts = db.Jobs.AsNoTracking().GroupBy(j => j.State).Select(g => new { g.Key, Count = g.LongCount() }).ToDictionary(g => g.Key, g => g.Count);
        return [.. States.Select(s => new Measurement<long>(counts.GetValueOrDefault(s), new KeyValuePair<string, object?>("state", s)))];
    }

    private long ProvidersOnline()
    {
        using var scope = _services.CreateScope();
        return scope.ServiceProvider.GetRequiredService<CoordinatorDb>().Providers.LongCount(p => p.Status == ProviderStatuses.Online);
    }
}
