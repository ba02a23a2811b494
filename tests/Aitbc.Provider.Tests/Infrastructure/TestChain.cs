using System.Net;
using System.Text;
using System.Text.Json;
using Aitbc.Node;
using Aitbc.Node.Client;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// A real node on loopback (in-process <see cref="NodeServer"/>, RocksDB in a temp folder, port 0) with a
/// faucet without cooldown. Blocks come while transactions are pending (at most every
/// <c>minBlockIntervalMs</c>) and no heartbeat blocks otherwise, so balances move only when a test sends something.
/// </summary>
public sealed class TestChain : IAsyncDisposable
{
    public const string ChainId = "aitbc-provider-test";
    public static readonly Amount Fee = new(1_000);
    private readonly NodeServer _server;

    private TestChain(NodeServer server)
    {
        _server = server;
        Http = new HttpClient { BaseAddress = server.RpcUri, Timeout = TimeSpan.FromSeconds(60) };
        Client = new NodeClient(Http);
    }

    public Uri RpcUri => _server.RpcUri;

    public HttpClient Http { get; }

    public NodeClient Client { get; }

    /// <summary>Where the fees go: the only validator proposes every block.</summary>
    public static Address Proposer => TestKeys.Validator.Address;

    public static async Task<TestChain> StartAsync(string dataDir, LogBuffer logs, int minBlockIntervalMs = 20, IEnumerable<GenesisAllocation>? allocations = null)
    {
        var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            [new GenesisValidator(TestKeys.Validator.Address, 1, "validator-0")],
            [new GenesisAllocation(TestKeys.Faucet.Address, Amount.FromAit(1_000_000)), .. allocations ?? []],
            new ChainParameters
            {
                MinFee = Fee,
                MinBlockIntervalMs = minBlockIntervalMs,
                EmptyBlockIntervalMs = 3_600_000,
                Faucet = TestKeys.Faucet.Address,
                FaucetAmount = Amount.FromAit(1_000),
            });
        var options = new NodeOptions { DataDir = dataDir, RpcPort = 0, FaucetCooldownSeconds = 0, FaucetPerIpPerMinute = 100_000, FaucetPerSecond = 10_000, CommitWaitSeconds = 30 };
        return new TestChain(await NodeServer.StartAsync(options, genesis, TestKeys.Validator, TestKeys.Faucet, logging: logs.AddTo));
    }

    /// <summary>Pays <paramref name="amount"/> from the faucet (a real signed transfer) and waits for its block.</summary>
    public async Task FundAsync(Address to, Amount amount)
    {
        using var content = new StringContent($$"""{"address":"{{to}}","amount":"{{amount}}"}""", Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri("/v1/faucet?wait=commit", UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK && text.Contains("\"committed\"", StringComparison.Ordinal), $"faucet: {(int)response.StatusCode} {text}");
    }

    public async Task<Amount> BalanceAsync(Address address) => (await Client.AccountAsync(address)).Balance;

    /// <summary>Signs with the account's next nonce (counting pending ones) and submits, waiting for the block or not.</summary>
    public async Task<SubmitResult> SubmitAsync(Ed25519Key key, TxBody body, bool wait = true)
    {
        var nonce = (await Client.AccountAsync(key.Address)).NextNonce;
        return await Client.SubmitAsync(Transaction.Sign(key, ChainId, nonce, Fee, body), waitForCommit: wait);
    }

    /// <summary>Like <see cref="SubmitAsync"/>, and the transaction must be committed.</summary>
    public async Task<SubmitResult> CommitAsync(Ed25519Key key, TxBody body)
    {
        var result = await SubmitAsync(key, body);
        Assert.True(result.Committed, $"{body.Type}: {result.Status} {result.Problem}");
        return result;
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
        Http.Dispose();
        await _server.DisposeAsync();
    }
}
