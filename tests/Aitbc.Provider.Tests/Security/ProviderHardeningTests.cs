using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Node.Client;
using Aitbc.Provider.Tests.Infrastructure;
using static Aitbc.Provider.Tests.Infrastructure.HostileSetup;

namespace Aitbc.Provider.Tests.Security;

/// <summary>
/// The second review of the provider (docs/security.md, items 5, 10 and 13 of the provider): a stranger on the
/// direct path, malformed dispatch messages, a backend's impossible counts or endless output, settles whose answer
/// is lost, and results the coordinator cannot take yet. Node, chain and provider are real; the coordinator is
/// <see cref="HostileCoordinator"/> (or the real one), the backend the Ollama stand-in, and where a lost answer is
/// needed the node is reached through <see cref="NodeProxy"/>.
/// </summary>
public sealed class ProviderHardeningTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    private static long ExpiresAt => DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();

    [Fact]
    public async Task Attack05_A_stranger_flooding_the_direct_path_holds_no_slot_or_claim_and_every_dispatched_job_runs_and_settles()
    {
        // One slot, and a limit raised for this one loopback attacker so that its requests reach the escrow check.
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack05-flood", o =>
        {
            o.Concurrency = 1;
            o.DirectRequestsPerIpPerSecond = 100_000;
            o.DirectBurstPerIp = 100_000;
        });
        using var client = await Market.NewClientAsync(ClientFunds);
        using var stranger = Ed25519Key.Generate(); // no funds, no escrow
        var ids = Enumerable.Range(0, 4).Select(_ => "attack05-" + Guid.NewGuid().ToString("N")).ToList();
        foreach (var j in ids)
        {
            await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(j, setup.Key.Address, Quote, ExpiresAt));
        }
        using var stop = new CancellationTokenSource();
        var answers = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode Status, string? Code)>();
        var flood = Enumerable.Range(0, 8).Select(n => Task.Run(async () =>
        {
            using var http = new HttpClient(new SigningHandler(stranger)) { BaseAddress = setup.Provider.Uri };
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                // Random ids, and the victim's own job ids (public on the chain) before they are dispatched.
                var jobId = i % 2 == 0 ? "x-" + Guid.NewGuid().ToString("N") : ids[(i + n) % ids.Count];
                var (status, body) = await PostDirectAsync(http, new JsonObject { ["jobId"] = jobId, ["model"] = setup.StandIn.Model.Name, ["prompt"] = "hi", ["maxTokens"] = 1 });
                answers.Add((status, body.TryGetProperty("code", out var c) ? c.GetString() : null));
            }
        })).ToArray();
        await Eventually.TrueAsync(() => answers.Count >= 50, "the flood under way", () => Market.Logs.Text);

        foreach (var j in ids)
        {
            await setup.Hostile.DispatchAsync(HostileCoordinator.Job(j, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
                MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
            await setup.WaitForMessageAsync(j, "accept");
            await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == j), $"the result of {j}", () => Market.Logs.Text);
        }
        await stop.CancelAsync();
        await Task.WhenAll(flood);
        await setup.WaitUntilIdleAsync();

        // Every stranger's request was refused on its escrow: none paid by its signer, none at capacity, none "already running".
        Assert.All(answers, a => Assert.Equal((HttpStatusCode.PaymentRequired, "refused"), a));
        foreach (var j in ids)
        {
            Assert.Empty(setup.Hostile.MessagesFor(j, "reject"));
            var escrow = await Market.Chain.EscrowAsync(j);
            Assert.Equal("settled", escrow!.Status);
        }
        Assert.Empty(setup.Hostile.PostedFailures);
        Assert.Equal(ids.Count, setup.StandIn.InferenceRequests.Count);
        Assert.Equal(0, (await Market.Chain.Client.AccountAsync(stranger.Address)).Nonce);
        // Four settles, no refund.
        Assert.Equal(ids.Count, (await Market.Chain.Client.AccountAsync(setup.Key.Address)).Nonce);
    }

    [Fact]
    public async Task Attack05_The_direct_path_is_rate_limited_per_network_before_any_signature_or_escrow_is_checked()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack05-rate", o =>
        {
            o.DirectRequestsPerIpPerSecond = 0.01;
            o.DirectBurstPerIp = 3;
        });
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack05-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));
        using var unsigned = new HttpClient { BaseAddress = setup.Provider.Uri };
        for (var i = 0; i < 3; i++)
        {
            var (status, _) = await PostDirectAsync(unsigned, new JsonObject { ["jobId"] = jobId });
            Assert.Equal(HttpStatusCode.Unauthorized, status);
        }

        // The network's burst is spent: even the escrow's own client, signing a valid job, waits.
        using var http = new HttpClient(new SigningHandler(client.Key)) { BaseAddress = setup.Provider.Uri };
        using var content = Json(new JsonObject { ["jobId"] = jobId, ["model"] = setup.StandIn.Model.Name, ["prompt"] = Prompt, ["maxTokens"] = MaxTokens });
        using var response = await http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content);
        var body = await MarketAgent.ReadAsync(response, HttpStatusCode.TooManyRequests);

        Assert.Equal("rate_limited", body.GetProperty("code").GetString());
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Empty(setup.StandIn.InferenceRequests);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("locked", escrow!.Status);
        Assert.Equal(Amount.Zero, escrow.Paid);
        await setup.AssertProviderAccountAsync(ProviderFunds, nonce: 0);
    }

    [Fact]
    public async Task Attack05_Dispatches_with_null_missing_or_mistyped_fields_are_refused_before_anything_and_leak_no_slot_or_claim()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack05-null", o => o.Concurrency = 1);
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack05-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));
        JsonObject Good() => HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt);
        var forged = new List<JsonObject>();
        foreach (var (field, value) in new (string, JsonNode?)[]
        {
            ("model", null), ("model", ""), ("model", 7), ("client", null), ("client", "not-an-address"), ("maxTokens", "32"), ("maxTokens", 0),
            ("maxTokens", 1.5), ("maxTokens", 2_000_000), ("input", null), ("input", new JsonObject { ["prompt"] = 3 }), ("modelDigest", 5),
        })
        {
            var job = Good();
            job[field] = value;
            forged.Add(job);
        }
        var missing = Good();
        missing.Remove("model");
        forged.Add(missing);

        foreach (var job in forged)
        {
            await setup.Hostile.DispatchAsync(job);
        }
        await Eventually.TrueAsync(() => setup.Hostile.MessagesFor(jobId, "reject").Count == forged.Count, "a reject of every forged dispatch", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        // Refused before the escrow was looked at: nothing refunded, nothing run, the escrow as it was.
        Assert.Empty(setup.Hostile.MessagesFor(jobId, "accept"));
        Assert.Empty(setup.StandIn.InferenceRequests);
        Assert.Equal("locked", (await Market.Chain.EscrowAsync(jobId))!.Status);
        await setup.AssertProviderAccountAsync(ProviderFunds, nonce: 0);

        // The one slot and the job's claim are free: the job's true dispatch runs and is paid.
        await setup.Hostile.DispatchAsync(Good());
        await setup.WaitForMessageAsync(jobId, "accept");
        await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == jobId), "the result", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();
        Assert.Equal("settled", (await Market.Chain.EscrowAsync(jobId))!.Status);
        Assert.Equal(1, (await Market.Chain.Client.AccountAsync(setup.Key.Address)).Nonce);
        Assert.Empty(setup.Hostile.PostedFailures);
    }

    [Fact]
    public async Task Attack13_A_negative_token_count_from_the_backend_fails_and_refunds_and_never_settles_the_quote()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack13-negative");
        setup.StandIn.PromptTokensReported = -1_000;
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack13-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
        await setup.WaitForMessageAsync(jobId, "accept");
        await Eventually.TrueAsync(() => setup.Hostile.PostedFailures.Contains(jobId), "the failure", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("refunded", escrow!.Status);
        Assert.Equal(Amount.Zero, escrow.Paid);
        Assert.Empty(setup.Hostile.PostedResults);
        Assert.Contains("impossible token counts", Market.Logs.Text, StringComparison.Ordinal);
        // The client has its lock back (less the lock's fee); the provider paid only the refund's fee.
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units - TestChain.Fee.Units), nonce: 1);
        Assert.False(File.Exists(Path.Combine(setup.Provider.DeliveriesDirectory, jobId + ".json")));
    }

    [Fact]
    public async Task Attack10_An_output_past_the_coordinators_limit_is_stopped_and_refunded_before_any_receipt_is_signed()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack10-huge");
        // Ten tokens of 128 KiB each: 1.25 MiB of output, more than the 1 MiB the coordinator takes in a result.
        setup.StandIn.TokenPadding = new string('x', 128 * 1024);
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack10-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
        await Eventually.TrueAsync(() => setup.Hostile.PostedFailures.Contains(jobId), "the failure", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();

        Assert.Contains($"the output passed the limit of {ProviderOptions.MaxOutputLimit} bytes", Market.Logs.Text, StringComparison.Ordinal);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("refunded", escrow!.Status);
        Assert.Equal(Amount.Zero, escrow.Paid);
        Assert.Null(escrow.Receipt);
        Assert.Empty(setup.Hostile.PostedResults);
        Assert.False(File.Exists(Path.Combine(setup.Provider.DeliveriesDirectory, jobId + ".json")));
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units - TestChain.Fee.Units), nonce: 1);
    }

    [Fact]
    public async Task Attack10_A_settle_whose_answer_is_lost_is_neither_refunded_nor_failed_and_its_result_is_delivered_once_the_chain_shows_it()
    {
        await using var proxy = await NodeProxy.StartAsync(Market.Chain.RpcUri);
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack10-lost", o => o.Node = proxy.Uri.ToString());
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack10-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));
        // The node takes the settle; the provider never hears its answer.
        proxy.DropSettleAnswers(1);

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
        await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == jobId), "the result", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();
        await Eventually.TrueAsync(() => setup.Provider.Deliveries.Delivered == 1, "the delivery", () => Market.Logs.Text);

        Assert.Equal(1, proxy.SettleAnswersDropped);
        Assert.Empty(setup.Hostile.PostedFailures);
        using var posted = JsonDocument.Parse(setup.Hostile.PostedResults.Single(r => r.JobId == jobId).Body);
        Assert.True(UsageReceipt.TryParse(posted.RootElement.GetProperty("receipt"), out var receipt, out var why), why);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(receipt.Hash, escrow.Receipt);
        // One settle, no refund tried.
        await setup.AssertProviderAccountAsync(new Amount(ProviderFunds.Units + receipt.Amount.Units - TestChain.Fee.Units), nonce: 1);
        Assert.False(File.Exists(Path.Combine(setup.Provider.DeliveriesDirectory, jobId + ".json")));
    }

    [Fact]
    public async Task Attack10_A_wait_answered_500_is_not_taken_as_a_refused_settle_and_the_result_is_kept_and_delivered()
    {
        await using var proxy = await NodeProxy.StartAsync(Market.Chain.RpcUri);
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack10-wait", o => o.Node = proxy.Uri.ToString());
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack10-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));
        proxy.FailWaits(1);

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
        await Eventually.TrueAsync(() => setup.Hostile.PostedResults.Any(r => r.JobId == jobId), "the result", () => Market.Logs.Text);
        await setup.WaitUntilIdleAsync();
        await Eventually.TrueAsync(() => setup.Provider.Deliveries.Delivered == 1, "the delivery", () => Market.Logs.Text);

        Assert.Equal(1, proxy.WaitsFailed);
        Assert.Empty(setup.Hostile.PostedFailures);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(1, (await Market.Chain.Client.AccountAsync(setup.Key.Address)).Nonce);
    }

    [Fact]
    public async Task Attack10_A_paid_result_answered_409_wrong_state_is_kept_and_posted_again_until_acknowledged()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack10-wrongstate");
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack10-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));
        // The coordinator's sweeper failed the job while its settle was on its way: twice wrong_state, then taken.
        setup.Hostile.AnswerNextResult(409, "wrong_state");
        setup.Hostile.AnswerNextResult(409, "wrong_state");

        await setup.Hostile.DispatchAsync(HostileCoordinator.Job(jobId, client.Address, setup.StandIn.Model.Name, setup.StandIn.Model.PrefixedDigest, Prompt,
            MaxTokens, Bound, Market.PriceIn, Market.PriceOut, Quote, ExpiresAt));
        await Eventually.TrueAsync(() => setup.Provider.Deliveries.Delivered == 1, "the delivery", () => Market.Logs.Text);

        var posts = setup.Hostile.PostedResults.Where(r => r.JobId == jobId).ToList();
        Assert.Equal(3, posts.Count);
        Assert.Single(posts.Select(p => p.Body).Distinct());
        Assert.Contains("paid on the chain but the coordinator answered wrong_state", Market.Logs.Text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(setup.Provider.DeliveriesDirectory, jobId + ".json")));
        Assert.False(File.Exists(Path.Combine(setup.Provider.DeliveriesDirectory, ResultDeliveriesRefused, jobId + ".json")));
        Assert.Equal("settled", (await Market.Chain.EscrowAsync(jobId))!.Status);
        Assert.Equal(1, (await Market.Chain.Client.AccountAsync(setup.Key.Address)).Nonce);
    }

    [Fact]
    public async Task Attack10_A_direct_jobs_result_is_kept_and_served_again_to_the_escrows_client_only()
    {
        await using var setup = await HostileSetup.StartAsync(Market, "llama3.2:attack10-direct");
        using var client = await Market.NewClientAsync(ClientFunds);
        var jobId = "attack10-" + Guid.NewGuid().ToString("N");
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, setup.Key.Address, Quote, ExpiresAt));

        var (status, first) = await client.DirectAsync(setup.Provider.Uri, new JsonObject { ["jobId"] = jobId, ["model"] = setup.StandIn.Model.Name, ["prompt"] = Prompt, ["maxTokens"] = MaxTokens });
        Assert.True(status == HttpStatusCode.OK, first.ToString());
        var kept = Path.Combine(setup.Provider.DirectResultsDirectory, jobId + ".json");
        Assert.True(File.Exists(kept));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kept));
        }

        // The escrow's client reads it again (its first answer may have been lost).
        using var signed = new HttpClient(new SigningHandler(client.Key)) { BaseAddress = setup.Provider.Uri };
        using var again = await signed.GetAsync(new Uri($"/v1/jobs/{jobId}", UriKind.Relative));
        var body = await MarketAgent.ReadAsync(again, HttpStatusCode.OK);
        Assert.Equal(first.GetProperty("output").GetString(), body.GetProperty("output").GetString());
        Assert.Equal(first.GetProperty("receiptHash").GetString(), body.GetProperty("receiptHash").GetString());

        // Nobody else: a stranger's signature, no signature, an id with no kept result.
        using var strangerKey = Ed25519Key.Generate();
        using var stranger = new HttpClient(new SigningHandler(strangerKey)) { BaseAddress = setup.Provider.Uri };
        using var byStranger = await stranger.GetAsync(new Uri($"/v1/jobs/{jobId}", UriKind.Relative));
        Assert.Equal("forbidden", (await MarketAgent.ReadAsync(byStranger, HttpStatusCode.Forbidden)).GetProperty("code").GetString());
        using var unsigned = new HttpClient { BaseAddress = setup.Provider.Uri };
        using var byNobody = await unsigned.GetAsync(new Uri($"/v1/jobs/{jobId}", UriKind.Relative));
        Assert.Equal("unauthorized", (await MarketAgent.ReadAsync(byNobody, HttpStatusCode.Unauthorized)).GetProperty("code").GetString());
        using var unknown = await signed.GetAsync(new Uri($"/v1/jobs/attack10-{Guid.NewGuid():N}", UriKind.Relative));
        Assert.Equal("not_found", (await MarketAgent.ReadAsync(unknown, HttpStatusCode.NotFound)).GetProperty("code").GetString());

        // Served, never delivered to the coordinator; paid once.
        Assert.Empty(setup.Hostile.PostedResults);
        Assert.Single(setup.StandIn.InferenceRequests);
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(first.GetProperty("receiptHash").GetString(), escrow.Receipt.ToString());
        Assert.Equal(1, (await Market.Chain.Client.AccountAsync(setup.Key.Address)).Nonce);
    }

    private const string ResultDeliveriesRefused = "refused";

    private static StringContent Json(JsonObject body)
    {
        var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostDirectAsync(HttpClient http, JsonObject body)
    {
        using var content = Json(body);
        using var response = await http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }
}
