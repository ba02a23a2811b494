using System.Diagnostics.Metrics;

namespace Aitbc.Provider;

/// <summary>
/// The provider daemon's instruments on its own meter (<c>Aitbc.Provider</c>), exported on <c>/metrics</c>: jobs by
/// outcome and the tokens metered (counted as jobs end, observed so that every series is there from the first scrape),
/// the backend's time per job (a histogram), and gauges of the running jobs, the dispatch connection and the deliveries.
/// </summary>
internal sealed class ProviderMetrics
{
    public const string MeterName = "Aitbc.Provider";

    private readonly Histogram<double> _backendSeconds;
    private long _completed;
    private long _failed;
    private long _refused;
    private long _settlePending;
    private long _tokensIn;
    private long _tokensOut;

    public ProviderMetrics(Meter meter)
    {
        _backendSeconds = meter.CreateHistogram("aitbc_provider_backend_seconds", unit: "s", description: "Time the backend took to run a job, first request to last token.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });
        meter.CreateObservableCounter("aitbc_provider_jobs", () => (IEnumerable<Measurement<long>>)
        [
            Outcome(ref _completed, "completed"), Outcome(ref _failed, "failed"), Outcome(ref _refused, "refused"), Outcome(ref _settlePending, "settle_pending"),
        ], description: "Jobs by outcome: completed (settled), failed (refunded), refused (not run), settle_pending (settle sent, not yet seen committed).");
        meter.CreateObservableCounter("aitbc_provider_tokens", () => (IEnumerable<Measurement<long>>)
        [
            new(Interlocked.Read(ref _tokensIn), new KeyValuePair<string, object?>("direction", "in")),
            new(Interlocked.Read(ref _tokensOut), new KeyValuePair<string, object?>("direction", "out")),
        ], description: "Tokens metered in the receipts of settled jobs.");
    }

    /// <summary>The gauges of the running daemon's parts.</summary>
    public static void Observe(Meter meter, ProviderContext ctx)
    {
        meter.CreateObservableGauge("aitbc_provider_jobs_running", () => ctx.Runner.Running, description: "Jobs running in the backend now.");
        meter.CreateObservableGauge("aitbc_provider_coordinator_connected", () => ctx.Link.Connected ? 1 : 0, description: "Whether the dispatch connection to the coordinator is open.");
        meter.CreateObservableGauge("aitbc_provider_deliveries_retrying", () => ctx.Deliveries.Retrying, description: "Results kept and still being offered to the coordinator.");
    }

    public void Completed(long tokensIn, long tokensOut)
    {
        Interlocked.Increment(ref _completed);
        Interlocked.Add(ref _tokensIn, tokensIn);
        Interlocked.Add(ref _tokensOut, tokensOut);
    }

    public void SettlePending() => Interlocked.Increment(ref _settlePending);

    public void Failed() => Interlocked.Increment(ref _failed);

    public void Refused() => Interlocked.Increment(ref _refused);

    public void BackendRan(TimeSpan took) => _backendSeconds.Record(took.TotalSeconds);

    private static Measurement<long> Outcome(ref long count, string outcome) => new(Interlocked.Read(ref count), new KeyValuePair<string, object?>("outcome", outcome));
}
