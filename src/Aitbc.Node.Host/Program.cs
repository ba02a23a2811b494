using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Chain;
using Aitbc.Node.Storage;
using Microsoft.Extensions.Configuration;

// aitbc-node: the Brother Chain node. Settings come from appsettings.json, AITBC_NODE__* variables
// and the flags below, later ones winning.
var flags = new (string Flag, string Key, string Help)[]
{
    ("--data-dir", "Node:DataDir", $"chain data, keys and a new devnet's genesis (default {NodeOptions.DefaultDataDir()})"),
    ("--genesis", "Node:Genesis", "genesis file (default: <data-dir>/genesis.json, created as a devnet when missing)"),
    ("--validator-key", "Node:ValidatorKey", "validator key file, hex seed, mode 0600 (default: <data-dir>/validator.key)"),
    ("--faucet-key", "Node:FaucetKey", "faucet key file (default: <data-dir>/faucet.key when it exists)"),
    ("--rpc-host", "Node:RpcHost", "RPC listen address (default 127.0.0.1: the node holds keys)"),
    ("--rpc-port", "Node:RpcPort", "RPC port (default 8006; 0 picks a free one)"),
    ("--mempool-capacity", "Node:MempoolCapacity", "most transactions waiting (default 200000)"),
    ("--faucet-cooldown", "Node:FaucetCooldownSeconds", "seconds between two faucet payments to one address (default 60)"),
};
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("aitbc-node — the AITBC Brother Chain node (single validator)\n\nUsage: aitbc-node [options]\n\nOptions:");
    foreach (var (flag, _, help) in flags)
    {
        Console.WriteLine($"  {flag,-20} {help}");
    }
    Console.WriteLine($"  {"--verify",-20} replay the stored chain from genesis, verifying every block, compare state roots, exit");
    Console.WriteLine($"  {"-h, --help",-20} show this help\n\nEnvironment: AITBC_NODE__DATADIR, AITBC_NODE__RPCPORT, … override appsettings.json; flags override both.");
    return 0;
}
var verify = args.Contains("--verify");
args = [.. args.Where(a => a != "--verify")];
var known = flags.Select(f => f.Flag).ToHashSet();
for (var i = 0; i < args.Length; i += 2)
{
    if (!known.Contains(args[i].Split('=')[0]))
    {
        Console.Error.WriteLine($"aitbc-node: unknown option '{args[i]}' (see --help)");
        return 2;
    }
    if (args[i].Contains('=', StringComparison.Ordinal))
    {
        i--;
    }
    else if (i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"aitbc-node: option '{args[i]}' needs a value");
        return 2;
    }
}

var config = new ConfigurationBuilder()
    .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
    .AddEnvironmentVariables("AITBC_")
    .AddCommandLine(args, flags.ToDictionary(f => f.Flag, f => f.Key))
    .Build();
var options = new NodeOptions();
try
{
    config.GetSection(NodeOptions.Section).Bind(options);
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"aitbc-node: {e.Message}");
    return 2;
}
if (options.RpcPort is < 0 or > 65535 || options.MempoolCapacity < 1 || options.FaucetCooldownSeconds < 0)
{
    Console.Error.WriteLine("aitbc-node: --rpc-port must be 0-65535, --mempool-capacity positive, --faucet-cooldown not negative");
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

    var stopped = new TaskCompletionSource();
    using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
    {
        c.Cancel = true;
        stopped.TrySetResult();
    });
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stopped.TrySetResult();
    };
    while (!stopped.Task.IsCompleted && node.Fault is null)
    {
        await Task.WhenAny(stopped.Task, Task.Delay(500));
    }
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
