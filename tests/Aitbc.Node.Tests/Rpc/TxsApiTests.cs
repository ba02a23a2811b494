using System.Net;
using System.Text;
using Aitbc.Node.Rpc;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Aitbc.Node.Tests.Rpc;

public sealed class TxsApiTests(TestNode node) : IClassFixture<TestNode>
{
    private const ulong Ait = TestNode.Ait;

    [Fact]
    public async Task A_submitted_transaction_is_pending_then_committed()
    {
        var key = node.FundedKey();
        var to = TestNode.EmptyKey().Address;
        // Nonce 1 first: it cannot go into a block before nonce 0, so it is observably pending.
        var second = TestNode.Sign(Tx.Transfer(to, 2 * Ait).WithNonce(1), key);
        var first = TestNode.Sign(Tx.Transfer(to, 1 * Ait), key);

        await node.SubmitAsync(second);
        var pending = await node.GetJsonAsync($"/v1/txs/{second.Id}");
        Assert.Equal("pending", pending.GetProperty("status").GetString());
        Assert.Equal(second.Id.ToString(), pending.GetProperty("hash").GetString());
        Assert.Equal(key.Address.ToString(), pending.GetProperty("tx").GetProperty("from").GetString());

        await node.SubmitAsync(first);
        var committed = await node.WaitForOutcomeAsync(second.Id);

        Assert.Equal("committed", committed.GetProperty("status").GetString());
        var height = committed.GetProperty("height").GetInt64();
        Assert.True(height >= 1);
        Assert.Equal("2000000000", committed.GetProperty("tx").GetProperty("body").GetProperty("amount").GetString());
        var block = await node.GetJsonAsync($"/v1/blocks/{height}");
        Assert.Contains(block.GetProperty("txs").EnumerateArray(), t => t.GetProperty("nonce").GetInt64() == 1 && t.GetProperty("from").GetString() == key.Address.ToString());
        Assert.Equal((3 * Ait, 0L), await node.AccountAsync(to));
    }

    [Fact]
    public async Task Wait_for_commit_answers_committed_with_the_height()
    {
        var key = node.FundedKey();
        var tx = TestNode.Sign(Tx.Transfer(TestKeys.Bob, 7), key);

        var height = await node.CommitAsync(tx);

        var stored = await node.GetJsonAsync($"/v1/txs/{tx.Id}");
        Assert.Equal("committed", stored.GetProperty("status").GetString());
        Assert.Equal(height, stored.GetProperty("height").GetInt64());
        Assert.Equal((TestNode.UserFunds - 7 - TestNode.Fee, 1L), await node.AccountAsync(key.Address));
    }

    [Fact]
    public async Task A_batch_admits_each_transaction_on_its_own()
    {
        var key = node.FundedKey();
        var to = TestNode.EmptyKey().Address;
        var txs = Enumerable.Range(0, 3).Select(n => TestNode.Sign(Tx.Transfer(to, 1 * Ait).WithNonce(n), key)).ToArray();
        var badSignature = Tx.WithBadSignature(TestNode.Sign(Tx.Transfer(to, 1 * Ait).WithNonce(3), key));
        var body = "[" + string.Join(",", txs.Append(badSignature).Select(t => Encoding.UTF8.GetString(t.ToJsonBytes()))) + ",{\"type\":\"transfer\"}]";

        using var response = await node.PostJsonAsync("/v1/txs/batch", body);
        var result = await TestNode.ReadJsonAsync(response, HttpStatusCode.OK);

        Assert.Equal(3, result.GetProperty("accepted").GetInt32());
        Assert.Equal(2, result.GetProperty("refused").GetInt32());
        var items = result.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(5, items.Length);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(items[i].GetProperty("accepted").GetBoolean());
            Assert.Equal(txs[i].Id.ToString(), items[i].GetProperty("hash").GetString());
        }
        Assert.False(items[3].GetProperty("accepted").GetBoolean());
        Assert.Equal("bad_signature", items[3].GetProperty("code").GetString());
        Assert.Equal("invalid_transaction", items[4].GetProperty("code").GetString());
        foreach (var tx in txs)
        {
            Assert.Equal("committed", (await node.WaitForOutcomeAsync(tx.Id)).GetProperty("status").GetString());
        }
        Assert.Equal((3 * Ait, 0L), await node.AccountAsync(to));
        Assert.Equal(3, (await node.AccountAsync(key.Address)).Nonce);
    }

    [Fact]
    public async Task An_unknown_hash_is_not_found()
    {
        using var response = await node.Http.GetAsync(new Uri($"/v1/txs/{Hash256.Compute([42])}", UriKind.Relative));
        var problem = await TestNode.ReadJsonAsync(response, HttpStatusCode.NotFound);

        Assert.Equal("not_found", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Waiting_on_a_transaction_refused_before_the_wait_began_answers_at_once()
    {
        // The block producer can refuse a transaction between its admission and the waiter's registration.
        using var c = TestChain.New().Fund(TestKeys.Alice, 10 * Ait).Open();
        var parts = NodeParts.For(c, options: new NodeOptions { CommitWaitSeconds = 1 });
        var tx = Tx.Refund("no-job").SignedBy(TestKeys.Alice);
        parts.Tracker.Rejected(tx, 1, "no escrow for job 'no-job'");

        var result = await TxsApi.WaitForCommit(parts, tx.Id, CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result);
        Assert.Equal(422, problem.StatusCode);
        Assert.Equal("no escrow for job 'no-job'", problem.ProblemDetails.Detail);
    }

    [Fact]
    public async Task The_same_transaction_refused_once_and_admitted_again_is_waited_for_afresh()
    {
        // The pool's clock is past the escrow's expiry, the first block's time before it: the client's refund passes the door
        // and is refused in that block (a node whose clock and blocks disagree; the door refuses it when they agree).
        var expiresAt = TestChain.GenesisTime + 60_000;
        using var c = TestChain.New().Fund(TestKeys.Alice, 10 * Ait).Open();
        var parts = NodeParts.For(c, options: new NodeOptions { CommitWaitSeconds = 30 }, poolTime: expiresAt);
        c.ProduceOk(Tx.Lock("job-again", TestKeys.Bob.Address, 1 * Ait, expiresAt).SignedBy(TestKeys.Alice));
        var refund = Tx.Refund("job-again").WithNonce(1).SignedBy(TestKeys.Alice);
        Assert.Null(parts.Admission.Admit(refund.ToJsonBytes()).Refusal);
        Assert.Single(parts.ProduceFromPool(c).Rejected);
        Assert.NotNull(parts.Tracker.RejectionOf(refund.Id));

        // After expiry the very same signed bytes are valid: admitted again, they must not be answered by the old refusal.
        Assert.Null(parts.Admission.Admit(refund.ToJsonBytes()).Refusal);
        var waiting = TxsApi.WaitForCommit(parts, refund.Id, CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        parts.ProduceFromPool(c, expiresAt);
        var result = await waiting;

        var ok = Assert.IsType<Ok<TxsApi.Accepted>>(result);
        Assert.Equal("committed", ok.Value!.Status);
        Assert.Equal(c.Chain.Head.Height, ok.Value.Height);
    }
}
