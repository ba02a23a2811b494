using System.Net;
using System.Text.Json;

namespace Aitbc.Node.Tests.Rpc;

public sealed class ChainApiTests(TestNode node) : IClassFixture<TestNode>
{
    [Fact]
    public async Task Status_names_the_chain_its_head_and_its_validator()
    {
        var status = await node.GetJsonAsync("/v1/status");

        Assert.Equal(TestNode.ChainId, status.GetProperty("chainId").GetString());
        Assert.Equal(node.Genesis.Hash().ToString(), status.GetProperty("genesisHash").GetString());
        Assert.Equal(node.Server.Height, status.GetProperty("height").GetInt64());
        Assert.Equal(64, status.GetProperty("latestHash").GetString()!.Length);
        Assert.False(status.GetProperty("syncing").GetBoolean());
        Assert.Equal(JsonValueKind.Array, status.GetProperty("peers").ValueKind);
        var validator = Assert.Single(status.GetProperty("validators").EnumerateArray());
        Assert.Equal(TestKeys.Validator.Address.ToString(), validator.GetProperty("address").GetString());
        Assert.Equal("1000", status.GetProperty("minFee").GetString());
        Assert.Equal(TestNode.Faucet.Address.ToString(), status.GetProperty("faucet").GetString());
    }

    [Fact]
    public async Task Genesis_is_served_as_the_chain_knows_it()
    {
        using var response = await node.Http.GetAsync(new Uri("/v1/genesis", UriKind.Relative));
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var served = Genesis.Parse(bytes);
        Assert.Equal(node.Genesis.Hash(), served.Hash());
        Assert.Equal(TestNode.ChainId, served.ChainId);
    }

    [Fact]
    public async Task Blocks_by_latest_by_height_and_by_range_agree()
    {
        var key = node.FundedKey();
        var height = await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), key));

        var latest = await node.GetJsonAsync("/v1/blocks/latest");
        var atHeight = await node.GetJsonAsync($"/v1/blocks/{height}");
        var block0 = await node.GetJsonAsync("/v1/blocks/0");
        var range = await node.GetJsonAsync($"/v1/blocks?from=0&limit={height + 1}");
        var page = await node.GetJsonAsync($"/v1/blocks?from={height}&limit=1");

        Assert.True(latest.GetProperty("header").GetProperty("height").GetInt64() >= height);
        Assert.Equal(height, atHeight.GetProperty("header").GetProperty("height").GetInt64());
        Assert.Contains(atHeight.GetProperty("txs").EnumerateArray(), t => t.GetProperty("from").GetString() == key.Address.ToString());
        Assert.True(Block.TryParse(JsonSerializer.SerializeToUtf8Bytes(atHeight), out var parsed, out var error), error);
        Assert.True(parsed.VerifySignature());
        Assert.Equal(0, block0.GetProperty("header").GetProperty("height").GetInt64());
        Assert.Equal(node.Genesis.Hash().ToString(), block0.GetProperty("header").GetProperty("prevHash").GetString());
        var blocks = range.GetProperty("blocks").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(0, (int)height + 1).Select(h => (long)h), blocks.Select(b => b.GetProperty("header").GetProperty("height").GetInt64()));
        for (var i = 1; i < blocks.Length; i++)
        {
            Assert.Equal(blocks[i - 1].GetProperty("hash").GetString(), blocks[i].GetProperty("header").GetProperty("prevHash").GetString());
        }
        Assert.Equal(atHeight.GetProperty("hash").GetString(), Assert.Single(page.GetProperty("blocks").EnumerateArray()).GetProperty("hash").GetString());
        Assert.True(range.GetProperty("head").GetInt64() >= height);
    }

    [Fact]
    public async Task A_block_past_the_head_is_not_found_and_a_range_past_it_is_empty()
    {
        using var response = await node.Http.GetAsync(new Uri("/v1/blocks/999999", UriKind.Relative));
        var problem = await TestNode.ReadJsonAsync(response, HttpStatusCode.NotFound);
        var range = await node.GetJsonAsync("/v1/blocks?from=999999&limit=5");

        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        Assert.Empty(range.GetProperty("blocks").EnumerateArray());
    }
}
