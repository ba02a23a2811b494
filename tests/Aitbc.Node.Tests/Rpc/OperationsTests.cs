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
        Assert.True(PrometheusText.Declares(body, "aitbc_chain_height", "gauge"));
        Assert.True(PrometheusText.Value(body, "aitbc_chain_height") >= height);
        Assert.True(height >= 1);
        Assert.True(PrometheusText.Declares(body, "aitbc_mempool_txs", "gauge"));
        Assert.Single(PrometheusText.Samples(body, "aitbc_mempool_txs"));
        Assert.True(PrometheusText.Declares(body, "aitbc_txs_committed_total", "counter"));
        Assert.True(PrometheusText.Value(body, "aitbc_txs_committed_total") >= 1);
        Assert.True(PrometheusText.Declares(body, "aitbc_block_build_seconds", "histogram"));
        Assert.True(PrometheusText.Value(body, "aitbc_block_build_seconds_count") >= 1);
        Assert.True(PrometheusText.Value(body, "aitbc_block_build_seconds_bucket", "le=\"+Inf\"") >= 1);
        Assert.True(PrometheusText.Value(body, "aitbc_blocks_produced_total") >= 1);
    }

    [Fact]
    public async Task Two_nodes_in_one_process_each_export_their_own_figures()
    {
        // A second node in this process: its transfers must not show in the first one's counters, nor the first's in its.
        await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), node.FundedKey()));
        var other = new TestNode();
        await other.InitializeAsync();
        try
        {
            var (_, before) = await GetTextAsync("/metrics");
            await other.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), other.FundedKey()));
            await other.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), other.FundedKey()));

            var (_, after) = await GetTextAsync("/metrics");
            using var response = await other.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
            var theirs = await response.Content.ReadAsStringAsync();

            Assert.True(PrometheusText.Value(before, "aitbc_txs_committed_total") >= 1);
            Assert.Equal(PrometheusText.Value(before, "aitbc_txs_committed_total"), PrometheusText.Value(after, "aitbc_txs_committed_total"));
            Assert.Equal(2, PrometheusText.Value(theirs, "aitbc_txs_committed_total"));
            Assert.Equal(other.Server.Height, PrometheusText.Value(theirs, "aitbc_chain_height"));
        }
        finally
        {
            await other.DisposeAsync();
        }
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
