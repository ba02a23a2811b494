using System.Net;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>Health, metrics and the OpenAPI document.</summary>
public sealed class OperationsTests(TestNode node) : IClassFixture<TestNode>
{
    private async Task<(HttpStatusCode Status, string Body)> GetTextAsync(string path)
    {
        using var response = await node.Http.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_endpoints_answer_healthy(string path)
    {
        var (status, body) = await GetTextAsync(path);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", body);
    }

    [Fact]
    public async Task Metrics_follow_the_chain_height()
    {
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), node.FundedKey()));
        var height = node.Server.Height;

        var (status, body) = await GetTextAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("# TYPE aitbc_chain_height gauge\n", body, StringComparison.Ordinal);
        var line = body.Split('\n').Single(l => l.StartsWith("aitbc_chain_height ", StringComparison.Ordinal));
        Assert.True(long.Parse(line["aitbc_chain_height ".Length..], System.Globalization.CultureInfo.InvariantCulture) >= height);
        Assert.True(height >= 1);
        Assert.Contains("aitbc_mempool_txs ", body, StringComparison.Ordinal);
        Assert.Contains("aitbc_txs_committed_total ", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_is_served_and_describes_the_v1_api()
    {
        var doc = await node.GetJsonAsync("/openapi/v1.json");

        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Contains("/v1/status", paths);
        Assert.Contains("/v1/txs", paths);
        Assert.Contains("/v1/accounts/{address}", paths);
        Assert.Contains("/v1/escrows/{jobId}", paths);
    }
}
