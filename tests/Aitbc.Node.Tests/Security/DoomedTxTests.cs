using System.Net;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A node whose blocks hold 20 transactions and come at least two seconds apart, so one batch is in the pool before its block is built.</summary>
public sealed class SmallBlockNode : TestNode
{
    public const int MaxBlockTxs = 20;

    protected override ChainParameters Parameters(ChainParameters parameters) =>
        parameters with { MaxBlockTxs = MaxBlockTxs, MinBlockIntervalMs = 2_000 };
}

/// <summary>
/// Attack 2 (docs/security.md, the second review): transactions certain to fail in their block (a settle or refund whose fee nobody can pay,
/// an expired lock, a client's refund before expiry) were admitted; in the block they were refused, paying no fee, and
/// the same signed bytes were resubmitted, so that ~1,200 addresses held every block's 20,000 candidate slots for ever.
/// </summary>
public sealed class DoomedTxTests(TestNode node) : IClassFixture<TestNode>
{
    private const ulong Ait = TestNode.Ait;
    private const ulong Fee = TestNode.Fee;

    [Fact]
    public async Task Attack02_TransactionsCertainToFailAreRefusedAtTheDoor()
    {
        // The attacker's client account (1 AIT), an accomplice as provider with an empty account, and one escrow between them.
        var funder = node.FundedKey();
        var client = TestNode.EmptyKey();
        var provider = TestNode.EmptyKey();
        var honest = node.FundedKey();
        var sink = TestNode.EmptyKey().Address;
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(client.Address, Ait + (2 * Fee)), funder));
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await node.CommitAsync(TestNode.Sign(Tx.Lock("attack01-far", provider.Address, 1, now + 3_600_000), client));
        var soon = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1_000;
        await node.CommitAsync(TestNode.Sign(Tx.Lock("attack01-soon", provider.Address, 1_000, soon).WithNonce(1), client));
        var clientBefore = await node.AccountAsync(client.Address);
        Assert.Equal((Ait - 1 - 1_000, 2L), clientBefore);

        // Each transaction below could only be refused in its block: each is refused here, with its code.
        await AssertRefused(TestNode.Sign(Tx.Refund("attack01-far").WithNonce(2).WithFee(ulong.MaxValue / 2), client), HttpStatusCode.UnprocessableEntity, "escrow_state");
        await AssertRefused(TestNode.Sign(Tx.Refund("attack01-far").WithFee(ulong.MaxValue / 2), provider), HttpStatusCode.UnprocessableEntity, "insufficient_balance");
        await AssertRefused(TestNode.Sign(Tx.Settle("attack01-far", 1).WithFee(ulong.MaxValue / 2), provider), HttpStatusCode.UnprocessableEntity, "insufficient_balance");
        await AssertRefused(TestNode.Sign(Tx.Settle("attack01-far", 2), provider), HttpStatusCode.UnprocessableEntity, "escrow_state");
        await AssertRefused(TestNode.Sign(Tx.Lock("attack01-never", sink, 1, 1).WithNonce(2).WithFee(Ait - 1_001 - 1), client), HttpStatusCode.UnprocessableEntity, "escrow_state");
        await AssertRefused(TestNode.Sign(Tx.Lock("attack01-never", sink, 1, now).WithNonce(2), client), HttpStatusCode.UnprocessableEntity, "escrow_state");

        // Once the short escrow has expired (the next block cannot be earlier than now): its provider can no longer settle,
        // and its client's refund must pay a fee its account plus the refund can cover.
        await MempoolFloodTests.WaitUntil(() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > soon));
        await AssertRefused(TestNode.Sign(Tx.Settle("attack01-soon", 1), provider), HttpStatusCode.UnprocessableEntity, "escrow_state");
        var coverable = clientBefore.Balance + 1_000;
        await AssertRefused(TestNode.Sign(Tx.Refund("attack01-soon").WithNonce(2).WithFee(coverable + 1), client), HttpStatusCode.UnprocessableEntity, "insufficient_balance");
        Assert.Equal(clientBefore, await node.AccountAsync(client.Address));
        Assert.Equal((0UL, 0L), await node.AccountAsync(provider.Address));
        Assert.Equal("locked", (await node.GetJsonAsync("/v1/escrows/attack01-far")).GetProperty("status").GetString());
        Assert.Equal("locked", (await node.GetJsonAsync("/v1/escrows/attack01-soon")).GetProperty("status").GetString());
        using (var never = await node.Http.GetAsync(new Uri("/v1/escrows/attack01-never", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, never.StatusCode);
        }
        Assert.Equal(0, (await node.GetJsonAsync($"/v1/accounts/{client.Address}")).GetProperty("pending").GetInt32());

        // What can pay still gets in: an honest transfer, and the client's refund paying exactly what it can cover.
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(sink, 5 * Ait), honest));
        await node.CommitAsync(TestNode.Sign(Tx.Refund("attack01-soon").WithNonce(2).WithFee(coverable), client));
        Assert.Equal((0UL, 3L), await node.AccountAsync(client.Address));
        Assert.Equal((5 * Ait, 0L), await node.AccountAsync(sink));
    }

    private async Task AssertRefused(Transaction tx, HttpStatusCode status, string code)
    {
        using var response = await node.PostTxAsync(tx);
        var problem = await TestNode.ReadJsonAsync(response, status);
        Assert.Equal(code, problem.GetProperty("code").GetString());
    }
}

/// <summary>
/// Attack 2, in the block: a refusal while a block is built (here two locks of one job id, both admissible, of which only
/// the first can run) used up the block's room with the refused transaction and its sender's later nonces, and the same
/// bytes could be sent again to do it in the next block.
/// </summary>
public sealed class RefusedInBlockTests(SmallBlockNode node) : IClassFixture<SmallBlockNode>
{
    private const ulong Fee = TestNode.Fee;

    [Fact]
    public async Task Attack02_RefusalsInABlockCannotTakeItsRoom()
    {
        var winner = node.FundedKey();
        var losers = new[] { node.FundedKey(), node.FundedKey() };
        var honest = node.FundedKey();
        var sink = TestNode.EmptyKey().Address;
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(sink, 1), honest));
        var before = await Task.WhenAll(losers.Select(l => node.AccountAsync(l.Address)));
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;

        // The attack, in one batch (in the pool before the next block, two seconds after the last): one lock that runs,
        // two of the same job id that cannot, each followed by 16 transfers, all paying more than the honest transfer.
        var win = TestNode.Sign(Tx.Lock("attack01-dup", sink, 1, expiresAt).WithFee(10 * Fee), winner);
        var doomed = losers.Select(l => TestNode.Sign(Tx.Lock("attack01-dup", sink, 1, expiresAt).WithFee(5 * Fee), l)).ToArray();
        var followers = losers.SelectMany(l => Enumerable.Range(1, 16).Select(n => TestNode.Sign(Tx.Transfer(sink, 1).WithNonce(n).WithFee(5 * Fee), l))).ToArray();
        var fair = TestNode.Sign(Tx.Transfer(sink, 1).WithNonce(1), honest);
        var answer = await node.BatchAsync([win, .. doomed, .. followers, fair]);
        Assert.Equal(2 + doomed.Length + followers.Length, answer.GetProperty("accepted").GetInt32());

        // The 20 candidates were the winner's lock and 19 of the losers'; what was refused is made up from the rest, so the honest
        // transfer is in the same block as the winning lock.
        var height = (await node.WaitForOutcomeAsync(win.Id)).GetProperty("height").GetInt64();
        var honestOutcome = await node.WaitForOutcomeAsync(fair.Id);
        Assert.Equal("committed", honestOutcome.GetProperty("status").GetString());
        Assert.Equal(height, honestOutcome.GetProperty("height").GetInt64());
        foreach (var tx in doomed)
        {
            var outcome = await node.WaitForOutcomeAsync(tx.Id);
            Assert.Equal("rejected", outcome.GetProperty("status").GetString());
            Assert.Equal("an escrow for job 'attack01-dup' already exists", outcome.GetProperty("reason").GetString());
        }
        // The refused senders' queues left with them: nothing of theirs is pending, and their later nonces are refused.
        foreach (var tx in followers)
        {
            var outcome = await node.WaitForOutcomeAsync(tx.Id);
            Assert.Equal("rejected", outcome.GetProperty("status").GetString());
            Assert.StartsWith("dropped unexecuted", outcome.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(0, (await node.HeadAsync()).Mempool);

        // Sending the refused bytes again is refused at the door: the job id is taken.
        foreach (var tx in doomed)
        {
            using var again = await node.PostTxAsync(tx);
            var problem = await TestNode.ReadJsonAsync(again, HttpStatusCode.UnprocessableEntity);
            Assert.Equal("escrow_state", problem.GetProperty("code").GetString());
        }

        // Nothing of the losers moved.
        Assert.Equal(before, await Task.WhenAll(losers.Select(l => node.AccountAsync(l.Address))));
    }
}
