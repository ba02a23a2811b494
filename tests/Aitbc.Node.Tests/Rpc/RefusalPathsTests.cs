using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Node.Chain;
using Aitbc.Node.Rpc;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>A node that makes no block while its tests run, so what is admitted stays pending, and whose faucet may be asked for more than it holds.</summary>
public sealed class StillNode : TestNode
{
    protected override ChainParameters Parameters(ChainParameters parameters) => parameters with
    {
        MinBlockIntervalMs = 3_600_000,
        EmptyBlockIntervalMs = 3_600_000,
        FaucetAmount = Amount.FromAit(2_000_000),
    };

    protected override void Configure(NodeOptions options) => options.FaucetCooldownSeconds = 0;
}

/// <summary>A node that makes no block, with a pool of <see cref="Capacity"/> of which <see cref="Reserve"/> are kept for escrows.</summary>
public sealed class SmallStillPoolNode : TestNode
{
    public const int Capacity = 4;
    public const int Reserve = 1;

    protected override ChainParameters Parameters(ChainParameters parameters) => parameters with { MinBlockIntervalMs = 3_600_000, EmptyBlockIntervalMs = 3_600_000 };

    protected override void Configure(NodeOptions options)
    {
        options.MempoolCapacity = Capacity;
        options.MempoolEscrowReserve = Reserve;
        options.FaucetCooldownSeconds = 0;
    }
}

/// <summary>What one submission path answered for a refused transaction.</summary>
internal sealed record PathAnswer(string Code, string Detail, int? Status = null, string? Title = null, string? Type = null);

/// <summary>The three ways a transaction reaches the pool over the RPC, each asked for the same refused transaction.</summary>
internal static class RefusalPaths
{
    public static async Task<PathAnswer> SingleAsync(TestNode node, string json)
    {
        using var response = await node.PostJsonAsync("/v1/txs", json);
        return await ProblemAsync(response);
    }

    /// <summary>The transaction as the only element of a batch: 200, and its item refused.</summary>
    public static async Task<PathAnswer> BatchAsync(TestNode node, string json, Hash256? id)
    {
        using var response = await node.PostJsonAsync("/v1/txs/batch", $"[{json}]");
        var result = await TestNode.ReadJsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(0, result.GetProperty("accepted").GetInt32());
        Assert.Equal(1, result.GetProperty("refused").GetInt32());
        var item = Assert.Single(result.GetProperty("results").EnumerateArray().ToArray());
        Assert.Equal(0, item.GetProperty("index").GetInt32());
        Assert.False(item.GetProperty("accepted").GetBoolean());
        if (id is { } hash)
        {
            Assert.Equal(hash.ToString(), item.GetProperty("hash").GetString());
        }
        else
        {
            Assert.True(!item.TryGetProperty("hash", out var h) || h.ValueKind == JsonValueKind.Null, $"an unparsed element has no hash: {item}");
        }
        return new PathAnswer(item.GetProperty("code").GetString()!, item.GetProperty("error").GetString()!);
    }

    public static async Task<PathAnswer> FaucetAsync(TestNode node, Address to, ulong amount)
    {
        using var response = await node.PostJsonAsync("/v1/faucet", $"{{\"address\":\"{to}\",\"amount\":\"{amount}\"}}");
        return await ProblemAsync(response);
    }

    /// <summary>The transfer the faucet signs when asked for <paramref name="amount"/> to <paramref name="to"/> now.</summary>
    public static async Task<Transaction> FaucetTransferAsync(TestNode node, Address to, ulong amount)
    {
        var faucet = await node.GetJsonAsync($"/v1/accounts/{TestNode.Faucet.Address}");
        return TestNode.Sign(Tx.Transfer(to, amount, "faucet").WithNonce(faucet.GetProperty("nextNonce").GetInt64()), TestNode.Faucet);
    }

    /// <summary>The same answer, whichever path: the single path's problem details, the batch item's code and error.</summary>
    public static void AssertSame(string code, int status, PathAnswer single, PathAnswer batch, PathAnswer? faucet = null)
    {
        Assert.Equal(code, single.Code);
        Assert.Equal(status, single.Status);
        Assert.Equal($"urn:aitbc:error:{code}", single.Type);
        Assert.False(string.IsNullOrWhiteSpace(single.Title));
        Assert.False(string.IsNullOrWhiteSpace(single.Detail));
        Assert.Equal((single.Code, single.Detail), (batch.Code, batch.Detail));
        if (faucet is not null)
        {
            Assert.Equal(single, faucet);
        }
    }

    private static async Task<PathAnswer> ProblemAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode >= 400, $"expected a refusal, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal((int)response.StatusCode, problem["status"]!.GetValue<int>());
        return new PathAnswer(problem["code"]!.GetValue<string>(), problem["detail"]!.GetValue<string>(), (int)response.StatusCode,
            problem["title"]!.GetValue<string>(), problem["type"]!.GetValue<string>());
    }
}

/// <summary>
/// One admission pipeline: the same bad transaction gets the same refusal (code, status, detail) sent alone, in a batch, and,
/// where the faucet can make it, asked of the faucet; and it changes nothing.
/// </summary>
public sealed class RefusalPathsTests(StillNode node) : IClassFixture<StillNode>
{
    private const ulong Ait = TestNode.Ait;
    private const ulong Fee = TestNode.Fee;

    [Theory]
    [InlineData("malformed", "invalid_transaction", 400)]
    [InlineData("unknown field", "invalid_transaction", 400)]
    [InlineData("wrong chain", "wrong_chain", 400)]
    [InlineData("fee below the minimum", "fee_too_low", 400)]
    [InlineData("zero amount", "invalid_amount", 400)]
    [InlineData("zero escrow amount", "invalid_amount", 400)]
    [InlineData("amount plus fee overflows", "invalid_amount", 400)]
    [InlineData("bad signature", "bad_signature", 400)]
    [InlineData("signature by another key", "bad_signature", 400)]
    [InlineData("nonce too far ahead", "nonce_too_far", 409)]
    [InlineData("nonce of a pending transaction", "nonce_used", 409)]
    [InlineData("already pending", "duplicate", 409)]
    [InlineData("more than the balance", "insufficient_balance", 422)]
    [InlineData("settle of no escrow", "escrow_state", 422)]
    [InlineData("refund of no escrow", "escrow_state", 422)]
    [InlineData("second pending lock of a job", "escrow_state", 422)]
    public async Task A_bad_transaction_gets_the_same_refusal_alone_and_in_a_batch(string fault, string code, int status)
    {
        var (json, id) = await BadTransactionAsync(fault);
        var before = await StateAsync();

        var single = await RefusalPaths.SingleAsync(node, json);
        var batch = await RefusalPaths.BatchAsync(node, json, id);

        RefusalPaths.AssertSame(code, status, single, batch);
        Assert.Equal(before, await StateAsync());
    }

    [Fact]
    public async Task A_faucet_payment_it_cannot_cover_gets_the_same_refusal_from_the_faucet_alone_and_in_a_batch()
    {
        // The faucet may pay up to 2,000,000 AIT but holds 1,000,000: its own transfer is refused by the pool's balance check.
        var to = TestNode.EmptyKey().Address;
        const ulong amount = 1_500_000 * Ait;
        var tx = await RefusalPaths.FaucetTransferAsync(node, to, amount);
        var json = Encoding.UTF8.GetString(tx.ToJsonBytes());
        var before = await StateAsync();

        var faucet = await RefusalPaths.FaucetAsync(node, to, amount);
        var single = await RefusalPaths.SingleAsync(node, json);
        var batch = await RefusalPaths.BatchAsync(node, json, tx.Id);

        RefusalPaths.AssertSame("insufficient_balance", 422, single, batch, faucet);
        Assert.Equal($"balance {1_000_000 * Ait} is less than the {amount + Fee} this transaction needs", single.Detail);
        Assert.Equal(before, await StateAsync());
    }

    /// <summary>A transaction with <paramref name="fault"/>, as JSON, and its id when it parses; what it needs pending is submitted first.</summary>
    private async Task<(string Json, Hash256? Id)> BadTransactionAsync(string fault)
    {
        var key = node.FundedKey();
        var transfer = Tx.Transfer(TestKeys.Bob, 1 * Ait);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Transaction? tx = fault switch
        {
            "wrong chain" => transfer.OnChain("aitbc-other").SignedBy(key),
            "fee below the minimum" => TestNode.Sign(transfer.WithFee(Fee - 1), key),
            "zero amount" => TestNode.Sign(Tx.Transfer(TestKeys.Bob, 0), key),
            "zero escrow amount" => TestNode.Sign(Tx.Lock("paths-zero", TestKeys.Bob.Address, 0, now + 600_000), key),
            "amount plus fee overflows" => TestNode.Sign(Tx.Transfer(TestKeys.Bob, ulong.MaxValue), key),
            "bad signature" => Tx.WithBadSignature(TestNode.Sign(transfer, key)),
            "nonce too far ahead" => TestNode.Sign(transfer.WithNonce(17), key),
            "more than the balance" => TestNode.Sign(Tx.Transfer(TestKeys.Bob, TestNode.UserFunds), key),
            "settle of no escrow" => TestNode.Sign(Tx.Settle("paths-none", 1), key),
            "refund of no escrow" => TestNode.Sign(Tx.Refund("paths-none"), key),
            _ => null,
        };
        if (tx is not null)
        {
            return (Encoding.UTF8.GetString(tx.ToJsonBytes()), tx.Id);
        }
        var valid = TestNode.Sign(transfer, key);
        switch (fault)
        {
            case "malformed":
                return (Mutated(valid, t => t["nonce"] = "0"), null);
            case "unknown field":
                return (Mutated(valid, t => t["extra"] = 1), null);
            case "signature by another key":
                var other = TestNode.Sign(transfer, TestKeys.Carol);
                var json = Mutated(valid, t => t["signature"] = Hex.Encode(other.Signature));
                return (json, valid.Id);
            case "nonce of a pending transaction":
                await node.SubmitAsync(valid);
                var rival = TestNode.Sign(Tx.Transfer(TestKeys.Bob, 2 * Ait), key);
                return (Encoding.UTF8.GetString(rival.ToJsonBytes()), rival.Id);
            case "second pending lock of a job":
                await node.SubmitAsync(TestNode.Sign(Tx.Lock("paths-twice", TestKeys.Bob.Address, 1 * Ait, now + 600_000), key));
                var again = TestNode.Sign(Tx.Lock("paths-twice", TestKeys.Bob.Address, 2 * Ait, now + 600_000).WithNonce(1), key);
                return (Encoding.UTF8.GetString(again.ToJsonBytes()), again.Id);
            case "already pending":
                await node.SubmitAsync(valid);
                return (Encoding.UTF8.GetString(valid.ToJsonBytes()), valid.Id);
            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault, "no such case");
        }
    }

    private static string Mutated(Transaction tx, Action<JsonObject> change)
    {
        var json = JsonNode.Parse(tx.ToJsonBytes())!.AsObject();
        change(json);
        return json.ToJsonString();
    }

    private async Task<string> StateAsync()
    {
        var (height, hash, mempool) = await node.HeadAsync();
        return $"height {height} head {hash} mempool {mempool} faucet {await node.AccountAsync(TestNode.Faucet.Address)}";
    }
}

/// <summary>A full pool refuses a transfer the same way on every path, the faucet's included.</summary>
public sealed class FullPoolPathsTests(SmallStillPoolNode node) : IClassFixture<SmallStillPoolNode>
{
    private const ulong Ait = TestNode.Ait;

    [Fact]
    public async Task A_full_pool_gets_the_same_refusal_from_the_faucet_alone_and_in_a_batch()
    {
        var filler = node.FundedKey();
        for (var n = 0; n < SmallStillPoolNode.Capacity - SmallStillPoolNode.Reserve; n++)
        {
            await node.SubmitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(n), filler));
        }
        var to = TestNode.EmptyKey().Address;
        var faucetTx = await RefusalPaths.FaucetTransferAsync(node, to, 1 * Ait);
        var userTx = TestNode.Sign(Tx.Transfer(to, 1 * Ait), node.FundedKey());

        var faucet = await RefusalPaths.FaucetAsync(node, to, 1 * Ait);
        var faucetTxJson = Encoding.UTF8.GetString(faucetTx.ToJsonBytes());
        var single = await RefusalPaths.SingleAsync(node, faucetTxJson);
        var batch = await RefusalPaths.BatchAsync(node, faucetTxJson, faucetTx.Id);
        var userJson = Encoding.UTF8.GetString(userTx.ToJsonBytes());
        var userSingle = await RefusalPaths.SingleAsync(node, userJson);
        var userBatch = await RefusalPaths.BatchAsync(node, userJson, userTx.Id);

        RefusalPaths.AssertSame("mempool_full", 503, single, batch, faucet);
        RefusalPaths.AssertSame("mempool_full", 503, userSingle, userBatch);
        Assert.Equal(single, userSingle);
        Assert.Equal("the mempool holds its maximum of 3 transactions (another 1 are kept for escrow settles and refunds)", single.Detail);
        Assert.Equal(SmallStillPoolNode.Capacity - SmallStillPoolNode.Reserve, (await node.HeadAsync()).Mempool);
    }
}

/// <summary>Every code of the domain's catalogue reaches the wire as itself, with the status docs/node.md gives.</summary>
public sealed class RefusalCatalogueTests
{
    public static TheoryData<string, int> Catalogue => new()
    {
        { "invalid_transaction", 400 },
        { "bad_signature", 400 },
        { "wrong_chain", 400 },
        { "fee_too_low", 400 },
        { "invalid_amount", 400 },
        { "nonce_used", 409 },
        { "nonce_too_far", 409 },
        { "duplicate", 409 },
        { "insufficient_balance", 422 },
        { "escrow_state", 422 },
        { "mempool_full", 503 },
        { "rate_limited", 429 },
    };

    [Theory]
    [MemberData(nameof(Catalogue))]
    public void A_refusal_code_maps_to_the_same_code_and_its_status(string code, int status)
    {
        var refusal = Assert.Single(RefusalCode.All, c => c.Value == code);

        var error = RefusalProblems.ErrorOf(refusal);

        Assert.Equal(code, error.Code);
        Assert.Equal(status, error.Status);
        Assert.False(string.IsNullOrWhiteSpace(error.Title));
    }

    [Fact]
    public void The_table_above_holds_every_refusal_code_once()
    {
        Assert.Equal(RefusalCode.All.Select(c => c.Value).Order(), Catalogue.Select(row => (string)row[0]).Order());
        Assert.Equal(RefusalCode.All.Count, RefusalCode.All.Select(c => c.Value).Distinct().Count());
    }
}
