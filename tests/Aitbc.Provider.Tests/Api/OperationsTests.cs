using System.Net;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Api;

/// <summary>The provider daemon's health and metrics.</summary>
public sealed class OperationsTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    private static async Task<Reply> GetAsync(Uri server, string path)
    {
        using var http = new HttpClient { BaseAddress = server };
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
        return await Reply.FromAsync(response);
    }

    [Fact]
    public async Task Metrics_count_a_paid_jobs_outcome_tokens_and_backend_time()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:metrics");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(Amount.FromAit(1));
        var before = await GetAsync(provider.Uri, "/metrics");
        Assert.Equal(HttpStatusCode.OK, before.Status);
        Assert.Equal(0, PrometheusText.Value(before.Text, "aitbc_provider_jobs_total", "outcome=\"completed\""));

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", "Count the tokens of this job.")], maxTokens: 16);
        var jobId = job.Id;
        await client.LockAsync(job);
        await Market.WaitForStateAsync(jobId, "completed");
        var done = await Market.JobAsync(jobId);

        var text = (await GetAsync(provider.Uri, "/metrics")).Text;
        Assert.True(PrometheusText.Declares(text, "aitbc_provider_jobs_total", "counter"));
        Assert.Equal(1, PrometheusText.Value(text, "aitbc_provider_jobs_total", "outcome=\"completed\""));
        Assert.Equal(0, PrometheusText.Value(text, "aitbc_provider_jobs_total", "outcome=\"failed\""));
        Assert.Equal(0, PrometheusText.Value(text, "aitbc_provider_jobs_total", "outcome=\"refused\""));
        Assert.Equal(done.TokensIn!.Value, PrometheusText.Value(text, "aitbc_provider_tokens_total", "direction=\"in\""));
        Assert.Equal(done.TokensOut!.Value, PrometheusText.Value(text, "aitbc_provider_tokens_total", "direction=\"out\""));
        Assert.True(PrometheusText.Declares(text, "aitbc_provider_backend_seconds", "histogram"));
        Assert.Equal(1, PrometheusText.Value(text, "aitbc_provider_backend_seconds_count"));
        Assert.True(PrometheusText.Value(text, "aitbc_provider_backend_seconds_sum") > 0);
        Assert.Equal(1, PrometheusText.Value(text, "aitbc_provider_coordinator_connected"));
    }

    [Fact]
    public async Task Live_runs_no_dependency_and_ready_needs_the_dispatch_connection()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:health");
        using var providerKey = Ed25519Key.Generate();
        var coordinator = await HostileCoordinator.StartAsync();
        ProviderServer? provider = null;
        var coordinatorGone = false;
        try
        {
            provider = await Market.StartProviderAsync(providerKey, standIn, o => o.Coordinator = coordinator.Uri.ToString());
            await Eventually.TrueAsync(() => coordinator.Connected, "the dispatch connection", () => Market.Logs.Text);
            var connected = await GetAsync(provider.Uri, "/health/ready");
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (connected.Status, connected.Text));

            // The coordinator goes away: the provider is still alive, and no longer ready for work.
            await coordinator.DisposeAsync();
            coordinatorGone = true;
            await Eventually.TrueAsync(() => !provider.ConnectedToCoordinator, "the dispatch connection to drop", () => Market.Logs.Text);

            var live = await GetAsync(provider.Uri, "/health/live");
            var ready = await GetAsync(provider.Uri, "/health/ready");
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Text));
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), (ready.Status, ready.Text));
        }
        finally
        {
            if (provider is not null)
            {
                await provider.DisposeAsync();
            }
            if (!coordinatorGone)
            {
                await coordinator.DisposeAsync();
            }
        }
    }
}
