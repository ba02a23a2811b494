using System.Net;

namespace Aitbc.Node.Tests.Rpc;

public sealed class FaucetApiTests(TestNode node) : IClassFixture<TestNode>
{
    [Fact]
    public async Task The_faucet_sends_a_real_transfer_and_then_rate_limits_the_address()
    {
        var to = TestNode.EmptyKey().Address;

        using var first = await node.PostJsonAsync("/v1/faucet", $"{{\"address\":\"{to}\"}}");
        var accepted = await TestNode.ReadJsonAsync(first, HttpStatusCode.Accepted);
        using var second = await node.PostJsonAsync("/v1/faucet", $"{{\"address\":\"{to}\"}}");
        var limited = await TestNode.ReadJsonAsync(second, HttpStatusCode.TooManyRequests);

        Assert.Equal("pending", accepted.GetProperty("status").GetString());
        Assert.Equal("rate_limited", limited.GetProperty("code").GetString());
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        var outcome = await node.WaitForOutcomeAsync(Hash256.Parse(accepted.GetProperty("hash").GetString()!));
        Assert.Equal("committed", outcome.GetProperty("status").GetString());
        var tx = outcome.GetProperty("tx");
        Assert.Equal("transfer", tx.GetProperty("type").GetString());
        Assert.Equal(TestNode.Faucet.Address.ToString(), tx.GetProperty("from").GetString());
        Assert.Equal((100 * TestNode.Ait, 0L), await node.AccountAsync(to));
    }

    [Fact]
    public async Task The_faucet_pays_a_chosen_amount_up_to_its_limit_and_can_wait_for_the_block()
    {
        var to = TestNode.EmptyKey().Address;
        var other = TestNode.EmptyKey().Address;

        using var paid = await node.PostJsonAsync("/v1/faucet?wait=commit", $"{{\"address\":\"{to}\",\"amount\":\"2500\"}}");
        var committed = await TestNode.ReadJsonAsync(paid, HttpStatusCode.OK);
        using var tooMuch = await node.PostJsonAsync("/v1/faucet", $"{{\"address\":\"{other}\",\"amount\":\"100000000001\"}}");
        var refused = await TestNode.ReadJsonAsync(tooMuch, HttpStatusCode.BadRequest);

        Assert.Equal("committed", committed.GetProperty("status").GetString());
        Assert.True(committed.GetProperty("height").GetInt64() >= 1);
        Assert.Equal((2500UL, 0L), await node.AccountAsync(to));
        Assert.Equal("invalid_amount", refused.GetProperty("code").GetString());
        Assert.Equal((0UL, 0L), await node.AccountAsync(other));
    }
}
