using System.Net;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>A node whose blocks come at least a second apart, so that what is sent just after a block meets in the next one.</summary>
public sealed class SlowBlockNode : TestNode
{
    protected override ChainParameters Parameters(ChainParameters parameters) => parameters with { MinBlockIntervalMs = 1_000 };
}

/// <summary>
/// A refusal while a block is built: two locks of one job id both pass the door (neither escrow exists yet), and the one
/// paying less is refused in the block, after the other.
/// </summary>
public sealed class BuildRefusalTests(SlowBlockNode node) : IClassFixture<SlowBlockNode>
{
    private const ulong Ait = TestNode.Ait;

    [Fact]
    public async Task A_transaction_refused_while_building_reports_rejected_with_its_reason()
    {
        var (winner, loser) = (node.FundedKey(), node.FundedKey());
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 600_000;
        var first = TestNode.Sign(Tx.Lock("rpc-dup-1", TestNode.EmptyKey().Address, 5 * Ait, expiresAt).WithFee(2 * TestNode.Fee), winner);
        var second = TestNode.Sign(Tx.Lock("rpc-dup-1", TestNode.EmptyKey().Address, 5 * Ait, expiresAt), loser);
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), node.FundedKey()));

        Assert.Equal(2, (await node.BatchAsync([first, second])).GetProperty("accepted").GetInt32());
        var outcome = await node.WaitForOutcomeAsync(second.Id);

        Assert.Equal("rejected", outcome.GetProperty("status").GetString());
        Assert.Equal("an escrow for job 'rpc-dup-1' already exists", outcome.GetProperty("reason").GetString());
        Assert.Equal("committed", (await node.WaitForOutcomeAsync(first.Id)).GetProperty("status").GetString());
        Assert.Equal((TestNode.UserFunds, 0L), await node.AccountAsync(loser.Address));
    }

    [Fact]
    public async Task Wait_for_commit_of_a_transaction_refused_while_building_answers_422_with_the_reason()
    {
        var (winner, loser) = (node.FundedKey(), node.FundedKey());
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 600_000;
        var first = TestNode.Sign(Tx.Lock("rpc-dup-2", TestNode.EmptyKey().Address, 5 * Ait, expiresAt).WithFee(2 * TestNode.Fee), winner);
        var second = TestNode.Sign(Tx.Lock("rpc-dup-2", TestNode.EmptyKey().Address, 5 * Ait, expiresAt), loser);
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), node.FundedKey()));
        await node.SubmitAsync(first);

        using var response = await node.PostTxAsync(second, waitForCommit: true);
        var problem = await TestNode.ReadJsonAsync(response, HttpStatusCode.UnprocessableEntity);

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("tx_rejected", problem.GetProperty("code").GetString());
        Assert.Equal("an escrow for job 'rpc-dup-2' already exists", problem.GetProperty("detail").GetString());
        Assert.Equal(second.Id.ToString(), problem.GetProperty("hash").GetString());
        Assert.Equal((TestNode.UserFunds, 0L), await node.AccountAsync(loser.Address));
    }
}
