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

    private long _txsCommitted;
    private long _txsRejected;
    private long _blocksProduced;
    private double _buildCommitSeconds;
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
        // Counted here and observed, so that each series is there (at 0) from the first scrape.
        meter.CreateObservableCounter("aitbc_txs_committed", () => Interlocked.Read(ref _txsCommitted), description: "Transactions committed since start.");
        meter.CreateObservableCounter("aitbc_txs_rejected", () => Interlocked.Read(ref _txsRejected), description: "Transactions refused while building a block since start.");
        meter.CreateObservableCounter("aitbc_blocks_produced", () => Interlocked.Read(ref _blocksProduced), description: "Blocks this node produced since start.");
        meter.CreateObservableCounter("aitbc_block_build_commit_seconds", () => Volatile.Read(ref _buildCommitSeconds),
            description: "Time spent building and durably committing blocks.");
        _blockBuildSeconds = meter.CreateHistogram("aitbc_block_build_seconds", unit: "s", description: "Time to build and durably commit one block.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        chain.Committed += c => Interlocked.Add(ref _txsCommitted, c.Block.Transactions.Count);
        node.Producer.Produced += Produced;
    }

    private void Produced(ProducedBlock block)
    {
        // One consensus thread writes these; scrapes only read them.
        Interlocked.Increment(ref _blocksProduced);
        Interlocked.Add(ref _txsRejected, block.Refused);
        Volatile.Write(ref _buildCommitSeconds, _buildCommitSeconds + block.Seconds);
        _blockBuildSeconds.Record(block.Seconds);
    }
}
