using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>
/// A real node on loopback (port 0, RocksDB in a temp dir) with a faucet and funded keys, shared by one test class.
/// Blocks come at most every 20 ms while transactions are pending and no heartbeat blocks, so the head moves only
/// when a test sends something. A subclass may set other limits (<see cref="Configure"/>).
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "xUnit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public class TestNode : IAsyncLifetime
{
    public const string ChainId = "aitbc-rpc-test";
    public const ulong Ait = TestChain.Ait;
    public const ulong Fee = TestChain.Fee;
    public const ulong UserFunds = 1_000 * Ait;
    public const int FaucetCooldownSeconds = 5;
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private const int Users = 40;
    private readonly TempDir _dir = new();
    private int _nextUser = -1;
    private LoopbackNode? _node;

    public NodeServer Server => (_node ?? throw new InvalidOperationException("not started")).Server;

    public HttpClient Http => (_node ?? throw new InvalidOperationException("not started")).Http;

    public Genesis Genesis { get; private set; } = null!;

    public static Ed25519Key Faucet => TestKeys.Faucet;

    public async Task InitializeAsync()
    {
        Genesis = GenesisBuilder.ForLoopback(ChainId)
            .WithFaucet(stock: Amount.FromAit(1_000_000), perRequest: Amount.FromAit(100))
            .Fund(Enumerable.Range(0, Users).Select(i => new GenesisAllocation(User(i).Address, new Amount(UserFunds))))
            .WithParams(Parameters)
            .Build();
        var options = new NodeOptions
        {
            DataDir = _dir.Path,
            RpcPort = 0,
            FaucetCooldownSeconds = FaucetCooldownSeconds,
            CommitWaitSeconds = 20,
        };
        Configure(options);
        _node = await LoopbackNode.StartAsync(options, Genesis);
    }

    /// <summary>The genesis parameters: 20 ms between blocks, no heartbeat blocks, a faucet.</summary>
    protected virtual ChainParameters Parameters(ChainParameters parameters) => parameters;

    /// <summary>The node's options before it starts; the defaults but for a short faucet cooldown.</summary>
    protected virtual void Configure(NodeOptions options)
    {
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        _dir.Dispose();
    }

    private static Ed25519Key User(int i) => TestKeys.Named($"rpc-user-{i}");

    /// <summary>A key with <see cref="UserFunds"/> at genesis that no other test of this node uses.</summary>
    public Ed25519Key FundedKey()
    {
        var i = Interlocked.Increment(ref _nextUser);
        Assert.True(i < Users, "TestNode has no funded keys left; raise Users");
        return User(i);
    }

    public static Ed25519Key EmptyKey() => Ed25519Key.Generate();

    public static Transaction Sign(TxBuilder tx, Ed25519Key key) => tx.OnChain(ChainId).SignedBy(key);

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return Http.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    /// <summary>Posts the transactions as one batch and returns the node's answer (200 expected).</summary>
    public async Task<JsonElement> BatchAsync(IEnumerable<Transaction> txs)
    {
        using var response = await PostJsonAsync("/v1/txs/batch", "[" + string.Join(",", txs.Select(t => Encoding.UTF8.GetString(t.ToJsonBytes()))) + "]");
        return await ReadJsonAsync(response, HttpStatusCode.OK);
    }

    public Task<HttpResponseMessage> PostTxAsync(Transaction tx, bool waitForCommit = false) =>
        PostJsonAsync(waitForCommit ? "/v1/txs?wait=commit" : "/v1/txs", Encoding.UTF8.GetString(tx.ToJsonBytes()));

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return await ReadJsonAsync(response, HttpStatusCode.OK);
    }

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>Submits, expects 202 pending, and returns the hash the node gave.</summary>
    public async Task<Hash256> SubmitAsync(Transaction tx)
    {
        using var response = await PostTxAsync(tx);
        var json = await ReadJsonAsync(response, HttpStatusCode.Accepted);
        Assert.Equal("pending", json.GetProperty("status").GetString());
        Assert.Equal(tx.Id.ToString(), json.GetProperty("hash").GetString());
        return tx.Id;
    }

    /// <summary>Submits with <c>?wait=commit</c> and expects the transaction in a block; returns its height.</summary>
    public async Task<long> CommitAsync(Transaction tx)
    {
        using var response = await PostTxAsync(tx, waitForCommit: true);
        var json = await ReadJsonAsync(response, HttpStatusCode.OK);
        Assert.Equal("committed", json.GetProperty("status").GetString());
        return json.GetProperty("height").GetInt64();
    }

    /// <summary>Polls <c>GET /v1/txs/{hash}</c> until it is no longer pending (at most <see cref="Patience"/>).</summary>
    public async Task<JsonElement> WaitForOutcomeAsync(Hash256 id)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var json = await GetJsonAsync($"/v1/txs/{id}");
            if (json.GetProperty("status").GetString() != "pending" || DateTime.UtcNow > deadline)
            {
                return json;
            }
            await Task.Delay(20);
        }
    }

    public async Task<(long Height, string Hash, int Mempool)> HeadAsync()
    {
        var status = await GetJsonAsync("/v1/status");
        return (status.GetProperty("height").GetInt64(), status.GetProperty("latestHash").GetString()!, status.GetProperty("mempoolSize").GetInt32());
    }

    public async Task<(ulong Balance, long Nonce)> AccountAsync(Address address)
    {
        var json = await GetJsonAsync($"/v1/accounts/{address}");
        return (ulong.Parse(json.GetProperty("balance").GetString()!, System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("nonce").GetInt64());
    }
}
