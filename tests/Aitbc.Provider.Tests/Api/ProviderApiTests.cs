using System.Net;
using System.Text.Json;
using Aitbc.Provider.Inference;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Api;

/// <summary>The daemon's own API: what it serves and at what prices, the development model labelled as such.</summary>
public sealed class ProviderApiTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    [Fact]
    public async Task The_dev_echo_model_is_listed_as_a_development_model_and_runs_paid_jobs()
    {
        using var providerKey = Ed25519Key.Generate();
        var options = Market.ProviderOptions(new Uri("http://127.0.0.1:9"));
        options.Backend = "dev-echo";
        await using var provider = await Market.StartProviderAsync(providerKey, options, ProviderServer.CreateBackend(options));

        var models = await GetAsync(provider.Uri, "/v1/models");

        Assert.Equal(providerKey.Address.ToString(), models.GetProperty("provider").GetString());
        Assert.Contains("development", models.GetProperty("backend").GetString(), StringComparison.OrdinalIgnoreCase);
        var model = Assert.Single(models.GetProperty("models").EnumerateArray());
        Assert.Equal(DevEchoBackend.ModelName, model.GetProperty("model").GetString());
        Assert.Equal(DevEchoBackend.Digest, model.GetProperty("digest").GetString());
        Assert.True(model.GetProperty("developmentModel").GetBoolean());
        Assert.Contains("DEVELOPMENT MODEL", model.GetProperty("note").GetString(), StringComparison.Ordinal);
        Assert.Equal(Market.PriceIn.ToString(), model.GetProperty("priceIn").GetString());
        Assert.Equal(Market.PriceOut.ToString(), model.GetProperty("priceOut").GetString());

        // And it does paid work through the market like any model.
        using var client = await Market.NewClientAsync(Amount.FromAit(1));
        var job = await client.SubmitChatAsync(DevEchoBackend.ModelName, [("user", "alpha beta gamma")], maxTokens: 16);
        var jobId = job.Id;
        await client.LockAsync(job);
        await Market.WaitForStateAsync(jobId, "completed");
        // Reading the output takes a request signed by the job's client (or its provider).
        var result = await client.Coordinator.ResultAsync(jobId);
        Assert.Equal("gamma beta alpha", result.Output);
        Assert.Equal(DevEchoBackend.Digest, result.ParseReceipt().ModelDigest);
        Assert.Equal("settled", (await Market.Chain.EscrowAsync(jobId))!.Status);
    }

    [Fact]
    public async Task Ollama_models_are_listed_with_their_digests_and_not_as_development_models()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:api-a", "qwen2.5:api-b");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);

        var models = await GetAsync(provider.Uri, "/v1/models");

        Assert.Equal(standIn.Models.Select(m => (m.Name, m.PrefixedDigest)).Order(),
            models.GetProperty("models").EnumerateArray().Select(m => (m.GetProperty("model").GetString()!, m.GetProperty("digest").GetString()!)).Order());
        Assert.All(models.GetProperty("models").EnumerateArray(), m => Assert.False(m.GetProperty("developmentModel").GetBoolean()));
        Assert.Empty(standIn.InferenceRequests);
    }

    private static async Task<JsonElement> GetAsync(Uri service, string path)
    {
        using var http = new HttpClient { BaseAddress = service };
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
        return await MarketAgent.ReadAsync(response, HttpStatusCode.OK);
    }
}
