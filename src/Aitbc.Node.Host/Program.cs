using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Chain;
using Aitbc.Node.Host;
using Aitbc.Node.Storage;
using Aitbc.ServiceDefaults;

// aitbc-node: the Brother Chain node. Settings come from appsettings.json, AITBC_NODE__* variables
// and the flags below, later ones winning.
NativeHeap.Bound();
HostFlag[] flags =
[
    new("--data-dir", "Node:DataDir", $"chain data, keys and a new devnet's genesis (default {NodeOptions.DefaultDataDir()})"),
    new("--genesis", "Node:Genesis", "genesis file (default: <data-dir>/genesis.json, created as a devnet when missing)"),
    new("--validator-key", "Node:ValidatorKey", "validator key file, hex seed, mode 0600 (default: <data-dir>/validator.key)"),
    new("--faucet-key", "Node:FaucetKey", "faucet key file (default: <data-dir>/faucet.key when it exists)"),
    new("--rpc-host", "Node:RpcHost", "RPC listen address (default 127.0.0.1: the node holds keys)"),
    new("--rpc-port", "Node:RpcPort", "RPC port (default 8006; 0 picks a free one)"),
    new("--mempool-capacity", "Node:MempoolCapacity", "most transactions waiting (default 200000)"),
    new("--mempool-escrow-reserve", "Node:MempoolEscrowReserve", "mempool slots only escrow settles and refunds may use (default 10000)"),
    new("--mempool-max-nonce-gap", "Node:MempoolMaxNonceGap", "how far past a sender's next executable nonce a transaction may be (default 16)"),
    new("--mempool-gap-seconds", "Node:MempoolGapSeconds", "seconds a transaction waiting for an earlier nonce is kept (default 60)"),
    new("--signatures-per-second-per-ip", "Node:SignaturesPerSecondPerIp", "signature checks per second for one client network (default 10000)"),
    new("--signature-burst-per-ip", "Node:SignatureBurstPerIp", "signature checks at once for one client network, at least 10000 (default 50000)"),
    new("--blocks-page-bytes", "Node:BlocksPageBytes", "most bytes of blocks in one GET /v1/blocks page (default 4194304)"),
    new("--block-reads-per-ip", "Node:BlockReadsPerIp", "block reads in progress at once for one client network (default 8)"),
    new("--block-reads", "Node:BlockReads", "block reads in progress at once, from everyone (default 64)"),
    new("--max-connections", "Node:MaxConnections", "open RPC connections, WebSockets apart (default 10000)"),
    new("--ws-connections", "Node:WsConnections", "open WebSocket connections, from everyone (default 10000)"),
    new("--ws-connections-per-ip", "Node:WsConnectionsPerIp", "open WebSocket connections per client network (default 64)"),
    new("--ws-subscriptions-per-connection", "Node:WsSubscriptionsPerConnection", "subscriptions per WebSocket connection (default 256)"),
    new("--faucet-cooldown", "Node:FaucetCooldownSeconds", "seconds between two faucet payments to one address (default 60; 0: none)"),
    new("--faucet-per-ip-per-minute", "Node:FaucetPerIpPerMinute", "faucet payments per minute for one client network (default 60)"),
    new("--faucet-per-second", "Node:FaucetPerSecond", "faucet payments per second overall (default 10)"),
];
var (config, exit) = HostConfiguration.Build("aitbc-node", "the AITBC Brother Chain node (single validator)", flags,
    [("--verify", "replay the stored chain from genesis, verifying every block, compare state roots, exit")], args);
if (config is null)
{
    return exit;
}
var verify = args.Contains("--verify");
if (HostConfiguration.Bind<NodeOptions>("aitbc-node", config, NodeOptions.Section) is not { } options)
{
    return 2;
}

var dataDir = Path.GetFullPath(options.DataDir);
Directory.CreateDirectory(dataDir);
var files = Devnet.PathsIn(dataDir);
var genesisPath = options.Genesis ?? files.Genesis;
try
{
    if (options.Genesis is null && !File.Exists(genesisPath))
    {
        if (Directory.Exists(Path.Combine(dataDir, "chain")))
        {
            Console.Error.WriteLine($"aitbc-node: '{dataDir}' holds chain data but no genesis.json; pass --genesis FILE");
            return 2;
        }
        Devnet.Create(dataDir);
        Console.Error.WriteLine($"Created a devnet in {dataDir}:\n  genesis        {files.Genesis}\n  validator key  {files.ValidatorKey}\n  faucet key     {files.FaucetKey}");
    }
    var genesis = Genesis.Parse(File.ReadAllBytes(genesisPath));
    if (verify)
    {
        using var stored = new RocksDbStore(Path.Combine(dataDir, "chain"));
        var report = ChainVerifier.Replay(stored, genesis);
        Console.WriteLine(report.Ok
            ? $"ok: replayed {report.Height} blocks from genesis; state root {report.ReplayedRoot} matches the stored one"
            : $"MISMATCH at height {report.Height}: {report.Error ?? "state roots differ"} (stored {report.StoredRoot}, replayed {report.ReplayedRoot})");
        return report.Ok ? 0 : 1;
    }
    using var validator = KeyFile.Read(options.ValidatorKey ?? files.ValidatorKey);
    var faucetPath = options.FaucetKey ?? (File.Exists(files.FaucetKey) ? files.FaucetKey : null);
    using var faucet = faucetPath is null ? null : KeyFile.Read(faucetPath);

    await using var node = await NodeServer.StartAsync(options, genesis, validator, faucet);
    Console.Error.WriteLine($"Node {validator.Address} serving chain {node.ChainId} at {node.RpcUri} (height {node.Height}, data {dataDir})");

    await HostConfiguration.WaitForStopSignalAsync(WaitForFaultAsync(node));
    if (node.Fault is { } fault)
    {
        Console.Error.WriteLine($"aitbc-node: stopped: {fault.Message}");
        return 1;
    }
    Console.Error.WriteLine("Stopping.");
    return 0;
}
catch (Exception e) when (e is FormatException or InvalidOperationException or NotSupportedException or FileNotFoundException or IOException or
    StorageCorruptException or System.Text.Json.JsonException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"aitbc-node: {e.Message}");
    return 1;
}

// The consensus loop stopping by itself (storage failure) ends the process too.
static async Task WaitForFaultAsync(NodeServer node)
{
    while (node.Fault is null)
    {
        await Task.Delay(500);
    }
}
