using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Aitbc.Node;

namespace Aitbc.Wallet.Tests;

/// <summary>
/// A real node on loopback (port 0, RocksDB in a temp dir, a faucet without cooldown) and a real wallet
/// daemon on it, shared by one test class. Blocks come at most every 20 ms while transactions are
/// pending and there are no heartbeat blocks, so balances move only when a test sends something.
/// Tests that damage the keystore start a daemon of their own with <see cref="StartDaemonAsync"/>.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "xUnit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class WalletHost : IAsyncLifetime
{
    public const string ChainId = "aitbc-wallet-test";
    public const ulong Ait = Amount.UnitsPerAit;
    public const ulong Fee = GenesisBuilder.Fee;
    private readonly TempDir _dir = new();
    private readonly List<WalletDaemon> _daemons = [];
    private LoopbackNode? _node;
    private WalletDaemon? _daemon;
    private int _next;

    public LoopbackNode Node => _node ?? throw new InvalidOperationException("not started");

    /// <summary>A client of the node's RPC (no authentication: the node's API is public).</summary>
    public HttpClient NodeHttp => Node.Http;

    /// <summary>The daemon the class's tests share.</summary>
    public WalletDaemon Daemon => _daemon ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        var genesis = GenesisBuilder.ForLoopback(ChainId).WithFaucet(stock: Amount.FromAit(10_000_000)).Build();
        var options = LoopbackNode.OpenFaucetOptions(_dir.Sub("node"));
        options.CommitWaitSeconds = 20;
        _node = await LoopbackNode.StartAsync(options, genesis);
        _daemon = await StartDaemonAsync();
    }

    /// <summary>Another daemon with a keystore of its own on the same node; stopped with the fixture.</summary>
    public async Task<WalletDaemon> StartDaemonAsync(Action<WalletOptions>? configure = null)
    {
        var daemon = await WalletDaemon.StartAsync(_dir.Sub($"wallet-{Interlocked.Increment(ref _next)}"), Node.RpcUri, configure);
        lock (_daemons)
        {
            _daemons.Add(daemon);
        }
        return daemon;
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _daemons)
        {
            await d.DisposeAsync();
        }
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    /// <summary>Pays <paramref name="amount"/> from the faucet (a real signed transfer) and waits for its block.</summary>
    public Task FundAsync(Address to, ulong amount) => Node.FundAsync(to, amount);

    /// <summary>The account as the node has it: committed balance and nonce, and the next nonce counting pending ones.</summary>
    public async Task<(ulong Balance, long Nonce, long NextNonce)> AccountAsync(Address address)
    {
        var account = await Node.Client.AccountAsync(address);
        return (account.Balance.Units, account.Nonce, account.NextNonce);
    }

    public async Task<ulong> BalanceAsync(Address address) => (await AccountAsync(address)).Balance;

    /// <summary>Waits (up to the node's limit) for a transaction's block; answers the node's view of it.</summary>
    public Task<JsonElement> WaitForTxAsync(string hash) => NodeGetAsync($"/v1/txs/{hash}?wait=commit");

    public async Task<JsonElement> NodeGetAsync(string path)
    {
        using var response = await NodeHttp.GetAsync(new Uri(path, UriKind.Relative));
        return (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK);
    }

    public async Task<Reply> NodeGetReplyAsync(string path)
    {
        using var response = await NodeHttp.GetAsync(new Uri(path, UriKind.Relative));
        return await Reply.FromAsync(response);
    }
}
