using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Client;
using Microsoft.Extensions.Logging;

namespace Aitbc.Testing;

/// <summary>
/// A real node on loopback: the in-process <see cref="NodeServer"/> on 127.0.0.1, port 0, RocksDB in the
/// folder the test gives, validator <see cref="TestKeys.Validator"/> and faucet <see cref="TestKeys.Faucet"/>
/// (a genesis from <see cref="GenesisBuilder"/>). A suite's fixture derives from it to fix its chain.
/// </summary>
public class LoopbackNode : IAsyncDisposable
{
    private int _disposed;

    protected LoopbackNode(NodeServer server, Genesis genesis)
    {
        Server = server;
        Genesis = genesis;
        Http = new HttpClient { BaseAddress = server.RpcUri, Timeout = TimeSpan.FromSeconds(60) };
        Client = new NodeClient(Http);
    }

    public NodeServer Server { get; }

    public Genesis Genesis { get; }

    public Uri RpcUri => Server.RpcUri;

    /// <summary>A client of the node's RPC (no authentication: the node's API is public).</summary>
    public HttpClient Http { get; }

    public NodeClient Client { get; }

    /// <summary>Where the fees go: the only validator proposes every block.</summary>
    public static Address Proposer => TestKeys.Validator.Address;

    /// <summary>The options of a node whose faucet anyone may call at any rate (no cooldown, no practical limit).</summary>
    public static NodeOptions OpenFaucetOptions(string dataDir) => new()
    {
        DataDir = dataDir,
        RpcPort = 0,
        FaucetCooldownSeconds = 0,
        FaucetPerIpPerMinute = 100_000,
        FaucetPerSecond = 10_000,
        CommitWaitSeconds = 30,
    };

    public static async Task<LoopbackNode> StartAsync(NodeOptions options, Genesis genesis, Action<ILoggingBuilder>? logging = null) =>
        new(await StartServerAsync(options, genesis, logging), genesis);

    /// <summary>The server a derived fixture wraps; silent unless <paramref name="logging"/> says where its log goes.</summary>
    protected static Task<NodeServer> StartServerAsync(NodeOptions options, Genesis genesis, Action<ILoggingBuilder>? logging)
    {
        Assert.Equal("127.0.0.1", options.RpcHost);
        return NodeServer.StartAsync(options, genesis, TestKeys.Validator, genesis.Params.Faucet is null ? null : TestKeys.Faucet, logging: logging ?? (_ => { }));
    }

    /// <summary>Pays <paramref name="units"/> base units from the faucet (a real signed transfer) and waits for its block.</summary>
    public Task FundAsync(Address to, ulong units) => FundAsync(to, new Amount(units));

    public async Task FundAsync(Address to, Amount amount)
    {
        using var content = new StringContent($$"""{"address":"{{to}}","amount":"{{amount}}"}""", Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri("/v1/faucet?wait=commit", UriKind.Relative), content);
        var reply = await Reply.FromAsync(response);
        reply.Expect(HttpStatusCode.OK);
        Assert.Equal("committed", reply.Str("status"));
    }

    public async Task<Amount> BalanceAsync(Address address) => (await Client.AccountAsync(address)).Balance;

    /// <summary>Signs with the account's next nonce (counting pending ones) and the minimum fee, and submits, waiting for the block or not.</summary>
    public async Task<SubmitResult> SubmitAsync(Ed25519Key key, TxBody body, bool wait = true)
    {
        var nonce = (await Client.AccountAsync(key.Address)).NextNonce;
        return await Client.SubmitAsync(Transaction.Sign(key, Genesis.ChainId, nonce, Genesis.Params.MinFee, body), waitForCommit: wait);
    }

    /// <summary>Like <see cref="SubmitAsync"/>, and the transaction must be committed.</summary>
    public async Task<SubmitResult> CommitAsync(Ed25519Key key, TxBody body)
    {
        var result = await SubmitAsync(key, body);
        Assert.True(result.Committed, $"{body.Type}: {result.Status} {result.Problem}");
        return result;
    }

    /// <summary>Submits many signed transactions at once (<c>POST /v1/txs/batch</c>); answers how many were accepted and the first refusals.</summary>
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

    /// <summary>The status of a transaction as the node reports it: pending, committed or rejected.</summary>
    public async Task<string> TxStatusAsync(Hash256 hash)
    {
        using var response = await Http.GetAsync(new Uri($"/v1/txs/{hash}", UriKind.Relative));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.TryGetProperty("status", out var s) ? s.GetString()! : $"http {(int)response.StatusCode}";
    }

    public Task<EscrowInfo?> EscrowAsync(string jobId) => Client.EscrowAsync(jobId);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Http.Dispose();
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
