using System.Diagnostics;

namespace Aitbc.Bench.Provider;

/// <summary>
/// Time spent waiting on the node, from HttpClient's own activities (<c>System.Net.Http</c>): every
/// request this process sends to the node's port, from send to response headers, by kind. While one job
/// runs at a time, the time it accrues is that job's chain time: the escrow reads, the nonce read, the
/// settle's submission and its wait for the block.
/// </summary>
internal sealed class NodeCallMeter : IDisposable
{
    public static readonly string[] Kinds = ["escrow read", "nonce read", "tx submit", "commit wait", "other"];
    private readonly ActivityListener _listener;
    private readonly int _port;
    private readonly long[] _ticks = new long[Kinds.Length];
    private readonly long[] _calls = new long[Kinds.Length];

    public NodeCallMeter(int nodePort)
    {
        _port = nodePort;
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = Stopped,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Time and calls so far, per kind (in the order of <see cref="Kinds"/>).</summary>
    public (TimeSpan[] Time, long[] Calls) Read() =>
        ([.. _ticks.Select((_, i) => TimeSpan.FromTicks(Interlocked.Read(ref _ticks[i])))], [.. _calls.Select((_, i) => Interlocked.Read(ref _calls[i]))]);

    private void Stopped(Activity a)
    {
        if (a.GetTagItem("server.port") is not int port || port != _port)
        {
            return;
        }
        var path = a.GetTagItem("url.full") is string url && Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.AbsolutePath : "";
        var post = a.GetTagItem("http.request.method") as string == "POST";
        var kind = path switch
        {
            _ when path.StartsWith("/v1/escrows/", StringComparison.Ordinal) => 0,
            _ when path.StartsWith("/v1/accounts/", StringComparison.Ordinal) => 1,
            "/v1/txs" when post => 2,
            _ when path.StartsWith("/v1/txs/", StringComparison.Ordinal) => 3,
            _ => 4,
        };
        Interlocked.Add(ref _ticks[kind], a.Duration.Ticks);
        Interlocked.Increment(ref _calls[kind]);
    }

    public void Dispose() => _listener.Dispose();
}
