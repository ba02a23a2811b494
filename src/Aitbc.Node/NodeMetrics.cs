using System.Diagnostics.Metrics;
using Aitbc.Node.Consensus;

namespace Aitbc.Node;

/// <summary>
/// The node's instruments on its own meter (<c>Aitbc.Node</c>), exported on <c>/metrics</c>: gauges read the
/// chain, the pool and the event streams when scraped; counters and the build-time histogram are fed by the
/// commits and by the consensus loop as blocks are made.
/// </summary>
internal sealed class NodeMetrics
{
    public const string MeterName = "Aitbc.Node";

    private readonly Counter<long> _txsCommitted;
    private readonly Counter<long> _txsRejected;
    private readonly Counter<long> _blocksProduced;
    private readonly Counter<double> _buildCommitSeconds;
    private readonly Histogram<double> _blockBuildSeconds;

    public NodeMetrics(Meter meter, NodeContext node)
    {
        var chain = node.Chain;
        meter.CreateObservableGauge("aitbc_chain_height", () => chain.Head.Height, description: "Height of the committed head.");
        meter.CreateObservableGauge("aitbc_chain_head_time_ms", () => chain.Head.Header.Time, description: "Time of the committed head (Unix ms).");
        meter.CreateObservableGauge("aitbc_accounts", () => chain.State.AccountCount, description: "Accounts with a balance or a nonce.");
        meter.CreateObservableGauge("aitbc_mempool_txs", () => node.Pool.Count, description: "Transactions waiting for a block.");
        meter.CreateObservableGauge("aitbc_mempool_gapped_txs", () => node.Pool.GappedCount, description: "Transactions waiting for an earlier nonce of their sender.");
        meter.CreateObservableGauge("aitbc_mempool_capacity", () => node.Pool.Capacity, description: "Most transactions the mempool holds.");
        meter.CreateObservableGauge("aitbc_ws_subscribers", () => node.Events.Count, description: "Open WebSocket connections.");
        meter.CreateObservableCounter("aitbc_ws_dropped", () => node.Events.Dropped, description: "WebSocket subscribers cut off for falling behind since start.");
        meter.CreateObservableGauge("aitbc_process_working_set_bytes", () => Environment.WorkingSet, description: "Resident memory of the node process.");
        _txsCommitted = meter.CreateCounter<long>("aitbc_txs_committed", description: "Transactions committed since start.");
        _txsRejected = meter.CreateCounter<long>("aitbc_txs_rejected", description: "Transactions refused while building a block since start.");
        _blocksProduced = meter.CreateCounter<long>("aitbc_blocks_produced", description: "Blocks this node produced since start.");
        _buildCommitSeconds = meter.CreateCounter<double>("aitbc_block_build_commit_seconds", description: "Time spent building and durably committing blocks.");
        _blockBuildSeconds = meter.CreateHistogram("aitbc_block_build_seconds", unit: "s", description: "Time to build and durably commit one block.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        chain.Committed += c => _txsCommitted.Add(c.Block.Transactions.Count);
        node.Producer.Produced += Produced;
    }

    private void Produced(ProducedBlock block)
    {
        _blocksProduced.Add(1);
        _txsRejected.Add(block.Refused);
        _buildCommitSeconds.Add(block.Seconds);
        _blockBuildSeconds.Record(block.Seconds);
    }
}
