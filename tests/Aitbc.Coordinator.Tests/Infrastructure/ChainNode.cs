using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Aitbc.Node;
using Aitbc.Node.Client;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// A real node on loopback (in-process <see cref="NodeServer"/>, RocksDB in a temp folder, port 0) with a
/// faucet without cooldown. Blocks come at most every 20 ms while transactions are pending and no heartbeat
/// blocks otherwise, so balances move only when a test sends something.
/// </summary>
public sealed class ChainNode : IAsyncDisposable
{
    public const string ChainId = "aitbc-coordinator-test";
    public const ulong Fee = 1_000;
    private readonly NodeServer _server;

    private ChainNode(NodeServer server)
    {
        _server = server;
        Http = new HttpClient { BaseAddress = server.RpcUri, Timeout = TimeSpan.FromSeconds(60) };
        Client = new NodeClient(Http);
    }

    public Uri RpcUri => _server.RpcUri;

    public HttpClient Http { get; }

    public NodeClient Client { get; }

    /// <summary>Starts a node whose genesis gives each of <paramref name="funded"/> this many base units (besides the faucet's stock).</summary>
    public static async Task<ChainNode> StartAsync(string dataDir, IEnumerable<Address>? funded = null, ulong each = 0)
    {
        var allocations = new List<GenesisAllocation> { new(TestKeys.Faucet.Address, Amount.FromAit(100_000_000)) };
        allocations.AddRange((funded ?? []).Select(a => new GenesisAllocation(a, new Amount(each))));
        var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            [new GenesisValidator(TestKeys.Validator.Address, 1, "validator-0")],
            allocations,
            new ChainParameters
            {
                MinFee = new Amount(Fee),
                MinBlockIntervalMs = 20,
                EmptyBlockIntervalMs = 3_600_000,
                Faucet = TestKeys.Faucet.Address,
                FaucetAmount = Amount.FromAit(1_000),
            });
        genesis.Validate();
        var options = new NodeOptions { DataDir = dataDir, RpcPort = 0, FaucetCooldownSeconds = 0, FaucetPerIpPerMinute = 100_000, FaucetPerSecond = 10_000, CommitWaitSeconds = 30 };
        return new ChainNode(await NodeServer.StartAsync(options, genesis, TestKeys.Validator, TestKeys.Faucet, logging: _ => { }));
    }

    /// <summary>Pays <paramref name="amount"/> from the faucet (a real signed transfer) and waits for its block.</summary>
    public async Task FundAsync(Address to, ulong amount)
    {
        using var content = new StringContent($$"""{"address":"{{to}}","amount":"{{amount}}"}""", Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri("/v1/faucet?wait=commit", UriKind.Relative), content);
        var reply = await Reply.FromAsync(response);
        reply.Expect(HttpStatusCode.OK);
        Assert.Equal("committed", reply.Str("status"));
    }

    public async Task<ulong> BalanceAsync(Address address) => (await Client.AccountAsync(address)).Balance.Units;

    /// <summary>Signs with the account's next nonce (counting pending ones) and submits, waiting for the block.</summary>
    public async Task<SubmitResult> SignAndSubmitAsync(Ed25519Key key, TxBody body)
    {
        var nonce = (await Client.AccountAsync(key.Address)).NextNonce;
        return await Client.SubmitAsync(Transaction.Sign(key, ChainId, nonce, new Amount(Fee), body), waitForCommit: true);
    }

    /// <summary>Submits many signed transactions at once (<c>POST /v1/txs/batch</c>); answers how many were accepted.</summary>
    public async Task<(int Accepted, string Refusals)> SubmitBatchAsync(IReadOnlyList<Transaction> txs)
    {
        var body = new StringBuilder("[");
        for (var i = 0; i < txs.Count; i++)
        {
            body.Append(i == 0 ? "" : ",").Append(Encoding.UTF8.GetString(txs[i].ToJsonBytes()));
        }
        body.Append(']');
        using var content = new StringContent(body.ToString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await Http.PostAsync(new Uri("/v1/txs/batch", UriKind.Relative), content);
        var json = (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK);
        var refusals = string.Join("; ", json.GetProperty("results").EnumerateArray()
            .Where(r => !r.GetProperty("accepted").GetBoolean()).Take(5).Select(r => r.GetProperty("error").GetString()));
        return (json.GetProperty("accepted").GetInt32(), refusals);
    }

    public async Task<JsonElement?> EscrowAsync(string jobId)
    {
        using var response = await Http.GetAsync(new Uri($"/v1/escrows/{jobId}", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        return (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK);
    }

    public static string Str(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _server.DisposeAsync();
    }
}
