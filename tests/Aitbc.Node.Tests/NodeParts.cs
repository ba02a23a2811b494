using Aitbc.ServiceDefaults.Networks;
using Aitbc.Node.Chain;
using Aitbc.Node.Consensus;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aitbc.Node.Tests;

/// <summary>
/// The node's parts around a test chain, wired as NodeServer wires them but without HTTP and with the
/// block producer not started, so a test drives admission and blocks itself.
/// </summary>
internal static class NodeParts
{
    /// <param name="poolTime">The pool's clock (Unix ms). By default the test chain's genesis time: blocks come at times the test
    /// chooses, after it, so the pool's checks against the next block's time see the head's time, as on a node whose clock
    /// and blocks agree.</param>
    public static NodeContext For(TestChain c, int capacity = 1_000, NodeOptions? options = null, long poolTime = TestChain.GenesisTime)
    {
        var pool = new TxPool(c.Chain, new PoolLimits(capacity), new FixedClock(poolTime));
        var tracker = new TxTracker(c.Chain);
        var producer = new BlockProducer(c.Chain, pool, tracker, c.Validator, TimeProvider.System, NullLogger<BlockProducer>.Instance);
        var o = options ?? new NodeOptions();
        var signatures = new RateLimits<System.Net.IPAddress>(TimeSpan.FromSeconds(1) / o.SignaturesPerSecondPerIp, o.SignatureBurstPerIp, 1_000, TimeProvider.System);
        return new NodeContext(c.Chain, pool, tracker, producer, null, new ChainEvents(c.Chain), o, signatures, new ReadGate(o.BlockReadsPerIp, o.BlockReads));
    }

    /// <summary>One block from the pool, as the block producer's loop makes it: the ready transactions, at <paramref name="time"/> (by default a second after the head).</summary>
    public static BuiltBlock ProduceFromPool(this NodeContext node, TestChain c, long? time = null) =>
        node.Producer.Produce(node.Pool.SelectReady(c.Chain.Params.MaxBlockTxs), time ?? c.NextTime);

    private sealed class FixedClock(long unixMs) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
    }
}
