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
    public const ulong Fee = 1_000;
    private readonly TempDir _dir = new();
    private readonly List<WalletDaemon> _daemons = [];
    private NodeServer? _node;
    private HttpClient? _nodeHttp;
    private WalletDaemon? _daemon;
    private int _next;

    public NodeServer Node => _node ?? throw new InvalidOperationException("not started");

    /// <summary>A client of the node's RPC (no authentication: the node's API is public).</summary>
    public HttpClient NodeHttp => _nodeHttp ?? throw new InvalidOperationException("not started");

    /// <summary>The daemon the class's tests share.</summary>
    public WalletDaemon Daemon => _daemon ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            [new GenesisValidator(TestKeys.Validator.Address, 1, "validator-0")],
            [new GenesisAllocation(TestKeys.Faucet.Address, Amount.FromAit(10_000_000))],
            new ChainParameters
            {
                MinFee = new Amount(Fee),
                MinBlockIntervalMs = 20,
                EmptyBlockIntervalMs = 3_600_000,
                Faucet = TestKeys.Faucet.Address,
                FaucetAmount = Amount.FromAit(1_000),
            });
        genesis.Validate();
        var options = new NodeOptions { DataDir = _dir.Sub("node"), RpcPort = 0, FaucetCooldownSeconds = 0, FaucetPerIpPerMinute = 100_000, FaucetPerSecond = 10_000, CommitWaitSeconds = 20 };
        _node = await NodeServer.StartAsync(options, genesis, TestKeys.Validator, TestKeys.Faucet, logging: _ => { });
        _nodeHttp = new HttpClient { BaseAddress = _node.RpcUri, Timeout = TimeSpan.FromSeconds(60) };
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
        _nodeHttp?.Dispose();
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    /// <summary>Pays <paramref name="amount"/> from the faucet (a real signed transfer) and waits for its block.</summary>
    public async Task FundAsync(Address to, ulong amount)
    {
        using var content = new StringContent($$"""{"address":"{{to}}","amount":"{{amount}}"}""", Encoding.UTF8, "application/json");
        using var response = await NodeHttp.PostAsync(new Uri("/v1/faucet?wait=commit", UriKind.Relative), content);
        var json = await Reply.FromAsync(response);
        json.Expect(HttpStatusCode.OK);
        Assert.Equal("committed", json.Json.GetProperty("status").GetString());
    }

    /// <summary>The account as the node has it: committed balance and nonce, and the next nonce counting pending ones.</summary>
    public async Task<(ulong Balance, long Nonce, long NextNonce)> AccountAsync(Address address)
    {
        var json = await NodeGetAsync($"/v1/accounts/{address}");
        return (ulong.Parse(json.GetProperty("balance").GetString()!, CultureInfo.InvariantCulture),
            json.GetProperty("nonce").GetInt64(), json.GetProperty("nextNonce").GetInt64());
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
