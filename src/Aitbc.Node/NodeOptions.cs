using System.ComponentModel.DataAnnotations;

namespace Aitbc.Node;

/// <summary>The node's settings: appsettings.json section <c>Node</c>, environment <c>AITBC_NODE__…</c>, or command-line flags.</summary>
public sealed class NodeOptions
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

    /// <summary>Seconds an address waits between two faucet payments.</summary>
    [Range(0, 86_400)]
    public int FaucetCooldownSeconds { get; set; } = 60;

    /// <summary>Seconds a <c>?wait=commit</c> request waits at most before answering 202 pending.</summary>
    [Range(1, 600)]
    public int CommitWaitSeconds { get; set; } = 30;

    public static string DefaultDataDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "node");
}
