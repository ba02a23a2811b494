using Aitbc.ServiceDefaults.Networks;
using Aitbc.Node.Chain;
using Aitbc.Node.Consensus;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;

namespace Aitbc.Node;

/// <summary>The running node's parts, as the RPC handlers see them.</summary>
internal sealed record NodeContext(
    Blockchain Chain, TxPool Pool, TxTracker Tracker, BlockProducer Producer, Faucet? Faucet, ChainEvents Events, NodeOptions Options,
    RateLimits<System.Net.IPAddress> Signatures, ReadGate Reads)
{
    /// <summary>The way into <see cref="Pool"/> for every submission path; the node sets the one its faucet uses too.</summary>
    public Admission Admission { get; init; } = new(Chain, Pool, Tracker);
}
