using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>Prometheus text exposition of the node's counters and gauges.</summary>
internal static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", Render).WithName("Metrics").ExcludeFromDescription();
        return app;
    }

    private static IResult Render(NodeContext node)
    {
        var head = node.Chain.Head.Header;
        var sb = new StringBuilder(1024);
        void Metric(string name, string type, string help, double value)
        {
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value.ToString(CultureInfo.InvariantCulture)}\n");
        }
        Metric("aitbc_chain_height", "gauge", "Height of the committed head.", head.Height);
        Metric("aitbc_chain_head_time_ms", "gauge", "Time of the committed head (Unix ms).", head.Time);
        Metric("aitbc_accounts", "gauge", "Accounts with a balance or a nonce.", node.Chain.State.AccountCount);
        Metric("aitbc_mempool_txs", "gauge", "Transactions waiting for a block.", node.Pool.Count);
        Metric("aitbc_mempool_gapped_txs", "gauge", "Transactions waiting for an earlier nonce of their sender.", node.Pool.GappedCount);
        Metric("aitbc_mempool_capacity", "gauge", "Most transactions the mempool holds.", node.Pool.Capacity);
        Metric("aitbc_txs_committed_total", "counter", "Transactions committed since start.", Interlocked.Read(ref node.Tracker.CommittedCount));
        Metric("aitbc_txs_rejected_total", "counter", "Transactions refused while building a block since start.", Interlocked.Read(ref node.Tracker.RejectedCount));
        Metric("aitbc_blocks_produced_total", "counter", "Blocks this node produced since start.", node.Producer.BlocksProduced);
        Metric("aitbc_block_build_commit_seconds_total", "counter", "Time spent building and durably committing blocks.", node.Producer.CommitSecondsTotal);
        Metric("aitbc_ws_subscribers", "gauge", "Open WebSocket connections.", node.Events.Count);
        Metric("aitbc_ws_dropped_total", "counter", "WebSocket subscribers cut off for falling behind since start.", node.Events.Dropped);
        Metric("aitbc_process_working_set_bytes", "gauge", "Resident memory of the node process.", Environment.WorkingSet);
        return Results.Text(sb.ToString(), "text/plain; version=0.0.4");
    }
}
