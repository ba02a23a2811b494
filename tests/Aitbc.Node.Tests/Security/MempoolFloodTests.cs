using System.Net;
using System.Text.Json;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A node with a small pool, its gapped transactions kept long, and limits raised for one loopback attacker.</summary>
public sealed class FloodNode : TestNode
{
    public const int Capacity = 1_000;
    public const int Reserve = 50;

    protected override void Configure(NodeOptions options)
    {
        options.MempoolCapacity = Capacity;
        options.MempoolEscrowReserve = Reserve;
        options.MempoolGapSeconds = 3_600;
        options.FaucetCooldownSeconds = 0;
        options.FaucetPerIpPerMinute = 10_000;
        options.FaucetPerSecond = 10_000;
        options.SignaturesPerSecondPerIp = 1_000_000;
        options.SignatureBurstPerIp = 1_000_000;
    }
}

/// <summary>A node whose gapped transactions expire after a second.</summary>
public sealed class ShortGapNode : TestNode
{
    protected override void Configure(NodeOptions options) => options.MempoolGapSeconds = 1;
}

/// <summary>
/// Attack 2 (docs/security.md): faucet-funded addresses submitting nonces 1..N (never 0) used to fill the pool for ever, so that
/// every honest sender, providers' settles included, got 503 mempool_full.
/// </summary>
public sealed class MempoolFloodTests(FloodNode node) : IClassFixture<FloodNode>
{
    private const ulong Ait = TestNode.Ait;
    private const int Attackers = 62;
    private const int NoncesTried = 64;

    [Fact]
    public async Task Attack02_GappedNoncesCannotFillThePool()
    {
        // Before the attack: a locked escrow whose provider will settle, and a sender that tries to spend twice what it has.
        var client = node.FundedKey();
        var provider = TestNode.EmptyKey();
        var honest = node.FundedKey();
        var spender = node.FundedKey();
        var sink = TestNode.EmptyKey().Address;
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;
        await node.CommitAsync(TestNode.Sign(Tx.Lock("attack02-job", provider.Address, 10 * Ait, expiresAt), client));

        // Pending spending counts against the balance: the second 600 AIT of a 1,000 AIT account is refused at the door.
        var twice = await node.BatchAsync([
            TestNode.Sign(Tx.Transfer(sink, 600 * Ait), spender),
            TestNode.Sign(Tx.Transfer(sink, 600 * Ait).WithNonce(1), spender)]);
        Assert.Equal(1, twice.GetProperty("accepted").GetInt32());
        Assert.Equal("insufficient_balance", twice.GetProperty("results")[1].GetProperty("code").GetString());

        // The attack: addresses funded by the faucet, each sending nonces 1..64 and never 0.
        var attackers = Enumerable.Range(0, Attackers + 1).Select(_ => TestNode.EmptyKey()).ToArray();
        foreach (var a in attackers)
        {
            using var paid = await node.PostJsonAsync("/v1/faucet", $$"""{"address":"{{a.Address}}","amount":"{{Ait}}"}""");
            Assert.Equal(HttpStatusCode.Accepted, paid.StatusCode);
        }
        await WaitUntil(async () => (await node.AccountAsync(attackers[^1].Address)).Balance == Ait);
        var codes = new Dictionary<string, int>(StringComparer.Ordinal);
        var accepted = 0;
        foreach (var a in attackers[..Attackers])
        {
            var answer = await node.BatchAsync(Enumerable.Range(1, NoncesTried).Select(n => TestNode.Sign(Tx.Transfer(sink, 1).WithNonce(n), a)));
            accepted += answer.GetProperty("accepted").GetInt32();
            foreach (var r in answer.GetProperty("results").EnumerateArray().Where(r => !r.GetProperty("accepted").GetBoolean()))
            {
                var code = r.GetProperty("code").GetString()!;
                codes[code] = codes.GetValueOrDefault(code) + 1;
            }
        }

        // At most 16 past the next executable nonce per sender; the pool fills only up to its reserve.
        const int Open = FloodNode.Capacity - FloodNode.Reserve;
        Assert.Equal(Open, accepted);
        Assert.Equal(Attackers * (NoncesTried - 16), codes["nonce_too_far"]);
        Assert.Equal((Attackers * 16) - Open, codes["mempool_full"]);
        Assert.Equal(Open, (await node.HeadAsync()).Mempool);

        // An honest transfer gets in all the same: it can run, so it takes the place of a gapped one, and commits.
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(sink, 5 * Ait), honest));
        Assert.Equal(Open - 1, (await node.HeadAsync()).Mempool);
        // Another gapped transaction refills the pool; gapped ones paying no more than those there do not evict them.
        var late = await node.BatchAsync(Enumerable.Range(1, 16).Select(n => TestNode.Sign(Tx.Transfer(sink, 1).WithNonce(n), attackers[^1])));
        Assert.Equal(1, late.GetProperty("accepted").GetInt32());
        Assert.All(late.GetProperty("results").EnumerateArray().Skip(1), r => Assert.Equal("mempool_full", r.GetProperty("code").GetString()));
        Assert.Equal(Open, (await node.HeadAsync()).Mempool);

        // The provider's settle uses the room kept for escrows and commits.
        await node.CommitAsync(TestNode.Sign(Tx.Settle("attack02-job", 4 * Ait), provider));

        // Nothing the attack sent moved money: every attacker still holds exactly what the faucet gave, at nonce 0.
        foreach (var a in attackers)
        {
            Assert.Equal((Ait, 0L), await node.AccountAsync(a.Address));
        }
        Assert.Equal(((600 + 5) * Ait, 0L), await node.AccountAsync(sink));
        Assert.Equal((4 * Ait) - TestNode.Fee, (await node.AccountAsync(provider.Address)).Balance);
        var escrow = await node.GetJsonAsync("/v1/escrows/attack02-job");
        Assert.Equal("settled", escrow.GetProperty("status").GetString());
    }

    internal static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TestNode.Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in time");
            await Task.Delay(20);
        }
    }
}

/// <summary>Gapped transactions do not stay: after the configured time they leave the pool, unexecuted.</summary>
public sealed class GapExpiryTests(ShortGapNode node) : IClassFixture<ShortGapNode>
{
    [Fact]
    public async Task Attack02_GappedNoncesExpire()
    {
        var attacker = node.FundedKey();
        var before = await node.AccountAsync(attacker.Address);
        var gapped = Enumerable.Range(1, 16).Select(n => TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(n), attacker)).ToArray();
        Assert.Equal(16, (await node.BatchAsync(gapped)).GetProperty("accepted").GetInt32());
        Assert.Equal(16, (await node.GetJsonAsync($"/v1/accounts/{attacker.Address}")).GetProperty("pending").GetInt32());

        await MempoolFloodTests.WaitUntil(async () => (await node.GetJsonAsync($"/v1/accounts/{attacker.Address}")).GetProperty("pending").GetInt32() == 0);

        using var gone = await node.Http.GetAsync(new Uri($"/v1/txs/{gapped[0].Id}", UriKind.Relative));
        var problem = await TestNode.ReadJsonAsync(gone, HttpStatusCode.NotFound);
        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        Assert.Equal(before, await node.AccountAsync(attacker.Address));
    }
}
