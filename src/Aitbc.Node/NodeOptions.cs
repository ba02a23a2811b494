using System.ComponentModel.DataAnnotations;

namespace Aitbc.Node;

/// <summary>The node's settings: appsettings.json section <c>Node</c>, environment <c>AITBC_NODE__…</c>, or command-line flags.</summary>
public sealed class NodeOptions : IValidatableObject
{
    public const string Section = "Node";

    /// <summary>Where the chain's RocksDB, keys and (for a new devnet) genesis live.</summary>
    [Required]
    public string DataDir { get; set; } = DefaultDataDir();

    /// <summary>The genesis file; when absent and the data directory is new, a devnet genesis is created there.</summary>
    public string? Genesis { get; set; }

    /// <summary>The validator's key file (hex seed, mode 0600). Defaults to <c>validator.key</c> in the data directory.</summary>
    public string? ValidatorKey { get; set; }

    /// <summary>The faucet's key file; defaults to <c>faucet.key</c> in the data directory when that exists.</summary>
    public string? FaucetKey { get; set; }

    /// <summary>The RPC's address: loopback by default, since the node holds keys.</summary>
    [Required]
    public string RpcHost { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int RpcPort { get; set; } = 8006;

    [Range(1, 10_000_000)]
    public int MempoolCapacity { get; set; } = 200_000;

    /// <summary>Slots of the mempool that only escrow settles and refunds (by the escrow's parties) may use, so they are never starved.</summary>
    [Range(0, 10_000_000)]
    public int MempoolEscrowReserve { get; set; } = 10_000;

    /// <summary>How far past a sender's next executable nonce a transaction may be (it waits for the gap to fill).</summary>
    [Range(0, 4_096)]
    public int MempoolMaxNonceGap { get; set; } = 16;

    /// <summary>Seconds a transaction waiting for an earlier nonce stays in the mempool.</summary>
    [Range(1, 86_400)]
    public int MempoolGapSeconds { get; set; } = 60;

    /// <summary>Signatures one client network (IPv4 address or IPv6 /64) may have checked per second, single or batched.</summary>
    [Range(1, 100_000_000)]
    public int SignaturesPerSecondPerIp { get; set; } = 10_000;

    /// <summary>Signatures one client network may have checked at once; at least one full batch (10,000).</summary>
    [Range(10_000, 1_000_000_000)]
    public int SignatureBurstPerIp { get; set; } = 50_000;

    /// <summary>Most bytes of blocks one <c>GET /v1/blocks</c> page carries (at least one block is always returned).</summary>
    [Range(64 * 1024, 1024 * 1024 * 1024)]
    public int BlocksPageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Block reads (<c>GET /v1/blocks</c>, <c>/v1/blocks/{height}</c>, <c>/v1/blocks/latest</c>) one client network may have in progress at once.</summary>
    [Range(1, 100_000)]
    public int BlockReadsPerIp { get; set; } = 8;

    /// <summary>Block reads in progress at once, from everyone: each holds at most one block in memory while a reader reads it.</summary>
    [Range(1, 100_000)]
    public int BlockReads { get; set; } = 64;

    /// <summary>Open TCP connections to the RPC (Kestrel's <c>MaxConcurrentConnections</c>; WebSockets are counted by <see cref="WsConnections"/>).</summary>
    [Range(1, 1_000_000)]
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Open WebSocket connections, from everyone.</summary>
    [Range(1, 1_000_000)]
    public int WsConnections { get; set; } = 10_000;

    /// <summary>Open WebSocket connections per client network.</summary>
    [Range(1, 1_000_000)]
    public int WsConnectionsPerIp { get; set; } = 64;

    /// <summary>Subscriptions (blocks, addresses, jobs, parties, all escrows) one WebSocket connection may hold.</summary>
    [Range(1, 1_000_000)]
    public int WsSubscriptionsPerConnection { get; set; } = 256;

    /// <summary>Seconds an address waits between two faucet payments (0: no cooldown).</summary>
    [Range(0, 86_400)]
    public int FaucetCooldownSeconds { get; set; } = 60;

    /// <summary>Faucet payments per minute to requests from one client network (a minute's worth may come at once).</summary>
    [Range(1, 1_000_000)]
    public int FaucetPerIpPerMinute { get; set; } = 60;

    /// <summary>Faucet payments per second overall (ten seconds' worth may come at once).</summary>
    [Range(1, 100_000)]
    public int FaucetPerSecond { get; set; } = 10;

    /// <summary>Seconds a <c>?wait=commit</c> request waits at most before answering 202 pending.</summary>
    [Range(1, 600)]
    public int CommitWaitSeconds { get; set; } = 30;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MempoolEscrowReserve >= MempoolCapacity)
        {
            yield return new ValidationResult(
                $"MempoolEscrowReserve ({MempoolEscrowReserve}) must be less than MempoolCapacity ({MempoolCapacity})", [nameof(MempoolEscrowReserve)]);
        }
        if (BlockReadsPerIp > BlockReads)
        {
            yield return new ValidationResult($"BlockReadsPerIp ({BlockReadsPerIp}) must not exceed BlockReads ({BlockReads})", [nameof(BlockReadsPerIp)]);
        }
        if (WsConnectionsPerIp > WsConnections)
        {
            yield return new ValidationResult($"WsConnectionsPerIp ({WsConnectionsPerIp}) must not exceed WsConnections ({WsConnections})", [nameof(WsConnectionsPerIp)]);
        }
    }

    public static string DefaultDataDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "node");
}
