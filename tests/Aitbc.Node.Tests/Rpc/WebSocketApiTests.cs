using System.Text;
using System.Text.Json;

namespace Aitbc.Node.Tests.Rpc;

public sealed class WebSocketApiTests(TestNode node) : IClassFixture<TestNode>
{
    private const ulong Ait = TestNode.Ait;

    private Task<WsClient> ConnectAsync() => WsClient.ConnectAsync(node.Server.RpcUri);

    [Fact]
    public async Task A_blocks_subscriber_receives_each_committed_block()
    {
        await using var ws = await ConnectAsync();
        var ack = await ws.RequestAsync("""{"op":"subscribe","channel":"blocks"}""");
        Assert.Equal("subscribed", ack.GetProperty("type").GetString());
        Assert.Equal("blocks", ack.GetProperty("channel").GetString());

        var height = await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), node.FundedKey()));
        var message = await ws.ReceiveAsync(m => m.GetProperty("channel").GetString() == "blocks" && m.GetProperty("height").GetInt64() == height);

        var block = await node.GetJsonAsync($"/v1/blocks/{height}");
        Assert.Equal(block.GetProperty("hash").GetString(), message.GetProperty("hash").GetString());
        Assert.Equal(height, message.GetProperty("header").GetProperty("height").GetInt64());
        Assert.Equal(1, message.GetProperty("header").GetProperty("txCount").GetInt32());
    }

    [Fact]
    public async Task A_txs_subscriber_receives_the_committed_transfer_to_its_address()
    {
        var recipient = TestNode.EmptyKey().Address;
        await using var ws = await ConnectAsync();
        var ack = await ws.RequestAsync($$"""{"op":"subscribe","channel":"txs","address":"{{recipient}}"}""");
        Assert.Equal("subscribed", ack.GetProperty("type").GetString());
        var transfer = TestNode.Sign(Tx.Transfer(recipient, 3 * Ait), node.FundedKey());

        await node.SubmitAsync(transfer);
        var message = await ws.ReceiveAsync(m => m.GetProperty("channel").GetString() == "txs");

        Assert.Equal(recipient.ToString(), message.GetProperty("address").GetString());
        Assert.Equal(transfer.Id.ToString(), message.GetProperty("hash").GetString());
        Assert.Equal("committed", message.GetProperty("status").GetString());
        Assert.Equal("3000000000", message.GetProperty("tx").GetProperty("body").GetProperty("amount").GetString());
        var stored = await node.GetJsonAsync($"/v1/txs/{transfer.Id}");
        Assert.Equal(stored.GetProperty("height").GetInt64(), message.GetProperty("height").GetInt64());
    }

    [Fact]
    public async Task An_escrows_subscriber_receives_the_lock_then_the_settle_of_its_job()
    {
        var client = node.FundedKey();
        var provider = TestNode.EmptyKey();
        await using var ws = await ConnectAsync();
        var ack = await ws.RequestAsync("""{"op":"subscribe","channel":"escrows","jobId":"ws-job-1"}""");
        Assert.Equal("subscribed", ack.GetProperty("type").GetString());
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 600_000;

        var lockHeight = await node.CommitAsync(TestNode.Sign(Tx.Lock("ws-job-1", provider.Address, 10 * Ait, expiresAt), client));
        var locked = await ws.ReceiveAsync(m => m.GetProperty("channel").GetString() == "escrows");
        var settleHeight = await node.CommitAsync(TestNode.Sign(Tx.Settle("ws-job-1", 4 * Ait), provider));
        var settled = await ws.ReceiveAsync(m => m.GetProperty("channel").GetString() == "escrows");

        Assert.Equal(lockHeight, locked.GetProperty("height").GetInt64());
        Assert.Equal("ws-job-1", locked.GetProperty("escrow").GetProperty("jobId").GetString());
        Assert.Equal("locked", locked.GetProperty("escrow").GetProperty("status").GetString());
        Assert.Equal(client.Address.ToString(), locked.GetProperty("escrow").GetProperty("client").GetString());
        Assert.Equal(settleHeight, settled.GetProperty("height").GetInt64());
        Assert.Equal("settled", settled.GetProperty("escrow").GetProperty("status").GetString());
        Assert.Equal("4000000000", settled.GetProperty("escrow").GetProperty("paid").GetString());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"op":"subscribe"}""")]
    [InlineData("""{"op":"listen","channel":"blocks"}""")]
    [InlineData("""{"op":"subscribe","channel":"mempool"}""")]
    [InlineData("""{"op":"subscribe","channel":"txs","address":"ait1notanaddress"}""")]
    [InlineData("""{"op":"subscribe","channel":"txs"}""")]
    [InlineData("""{"op":"subscribe","channel":"escrows","jobId":"bad job id"}""")]
    public async Task A_malformed_subscribe_gets_an_error_reply_and_the_connection_stays_usable(string message)
    {
        await using var ws = await ConnectAsync();

        var reply = await ws.RequestAsync(message);
        var after = await ws.RequestAsync("""{"op":"subscribe","channel":"blocks"}""");

        Assert.Equal("error", reply.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(reply.GetProperty("error").GetString()));
        Assert.Equal("subscribed", after.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_unsubscribed_address_gets_nothing_more()
    {
        var dropped = TestNode.EmptyKey().Address;
        var kept = TestNode.EmptyKey().Address;
        await using var ws = await ConnectAsync();
        await ws.RequestAsync($$"""{"op":"subscribe","channel":"txs","address":"{{dropped}}"}""");
        var off = await ws.RequestAsync($$"""{"op":"unsubscribe","channel":"txs","address":"{{dropped}}"}""");
        Assert.Equal("unsubscribed", off.GetProperty("type").GetString());
        await ws.RequestAsync($$"""{"op":"subscribe","channel":"txs","address":"{{kept}}"}""");
        var key = node.FundedKey();
        var txs = new[] { TestNode.Sign(Tx.Transfer(dropped, 1), key), TestNode.Sign(Tx.Transfer(kept, 1).WithNonce(1), key) };

        using var response = await node.PostJsonAsync("/v1/txs/batch", "[" + string.Join(",", txs.Select(t => Encoding.UTF8.GetString(t.ToJsonBytes()))) + "]");
        Assert.Equal(2, (await TestNode.ReadJsonAsync(response, System.Net.HttpStatusCode.OK)).GetProperty("accepted").GetInt32());
        // Events leave in commit order: had the dropped address still been subscribed, its message would come first.
        var seen = new List<string>();
        await ws.ReceiveAsync(m =>
        {
            seen.Add(m.GetProperty("address").GetString()!);
            return m.GetProperty("address").GetString() == kept.ToString();
        });

        Assert.Equal([kept.ToString()], seen);
    }
}
