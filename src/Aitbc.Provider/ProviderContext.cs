using Aitbc.Provider.Jobs;

namespace Aitbc.Provider;

/// <summary>The running daemon's parts, as the API handlers see them.</summary>
internal sealed class ProviderContext(JobRunner runner, CoordinatorLink link, ResultDeliveries deliveries, ResultDeliveries directResults, Aitbc.Node.Client.NodeClient node,
    ProviderOptions options, string backendName, TimeProvider time) : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public JobRunner Runner => runner;
    public CoordinatorLink Link => link;
    public ResultDeliveries Deliveries => deliveries;
    /// <summary>The results of direct-path jobs, kept for their clients.</summary>
    public ResultDeliveries DirectResults => directResults;
    public Aitbc.Node.Client.NodeClient Node => node;
    /// <summary>The direct path's per-network limit (at most 100,000 networks remembered).</summary>
    public Aitbc.ServiceDefaults.Networks.RateLimits<System.Net.IPAddress> DirectLimit { get; } =
        new(options.DirectRequestsPerIpPerSecond > 0 ? TimeSpan.FromSeconds(1) / options.DirectRequestsPerIpPerSecond : TimeSpan.Zero, options.DirectBurstPerIp, 100_000, time);
    public ProviderOptions Options => options;
    public string BackendName => backendName;
    public TimeProvider Time => time;
    public bool Draining { get; private set; }

    /// <summary>Canceled when running jobs must stop (after the grace period of a shutdown).</summary>
    public CancellationToken Stopping => _stopping.Token;

    public void Drain() => Draining = true;

    public Task AbortJobsAsync() => _stopping.CancelAsync();

    public void Dispose() => _stopping.Dispose();
}
