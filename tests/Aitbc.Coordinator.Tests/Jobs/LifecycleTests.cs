using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Chain;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Coordinator.Tests.Infrastructure;
using static Aitbc.Coordinator.Tests.Infrastructure.MarketTerms;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Tests.Jobs;

/// <summary>The market on SQLite (one file).</summary>
public sealed class SqliteLifecycleTests(SqliteMarket market) : LifecycleTests<SqliteMarket>(market);

/// <summary>The same tests on a real PostgreSQL server.</summary>
public sealed class PostgresLifecycleTests(PostgresMarket market) : LifecycleTests<PostgresMarket>(market);

/// <summary>
/// A job's whole life through the coordinator's HTTP API, with a real node and real providers' protocol: the
/// happy path with exact balances, every failure path, and every refusal (after which nothing has changed).
/// </summary>
public abstract class LifecycleTests<TMarket>(TMarket market) : IClassFixture<TMarket>
    where TMarket : MarketFixture
{
    private const ulong Fee = ChainNode.Fee;

    private static ulong Units(JsonElement e, string name) => ulong.Parse(e.GetProperty(name).GetString()!, CultureInfo.InvariantCulture);

    private Task<(JsonElement Job, JobOffer Offer)> DispatchedAsync(MarketAgent client, FakeProvider provider, string model) =>
        market.DispatchedAsync(client, provider, model, Prompt);

    private Task<(JsonElement Job, JobOffer Offer)> RunningAsync(MarketAgent client, FakeProvider provider, string model) =>
        market.RunningAsync(client, provider, model, Prompt);

    private async Task<int> JobsOfAsync(Address client) =>
        await market.DbAsync(db => db.Jobs.CountAsync(j => j.Client == client.ToString()));

    // The happy path.

    [Fact]
    public async Task A_job_goes_from_awaiting_payment_to_completed_and_the_escrow_pays_the_provider_the_metered_amount()
    {
        var model = market.NewModel();
        const ulong priceIn = 3 * Ait, priceOut = 7 * Ait;
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn, priceOut);
        using var client = await market.NewClientAsync(Funded);

        var job = await client.SubmitCreatedAsync(model, Prompt, maxTokens: 8);
        var id = Id(job);
        Assert.Equal(provider.Address.ToString(), job.GetProperty("provider").GetString());
        Assert.Equal(client.Address.ToString(), job.GetProperty("client").GetString());
        Assert.Equal(FakeProvider.Digest, job.GetProperty("modelDigest").GetString());
        var bound = job.GetProperty("inputTokenBound").GetInt32();
        var price = Pricing.Cost(bound, 8, new Amount(priceIn), new Amount(priceOut))!.Value;
        Assert.Equal(price.Units, Units(job, "price"));
        var lockBody = MarketAgent.LockBody(job);
        Assert.Equal((id, provider.Address, price, job.GetProperty("expiresAt").GetInt64()), (lockBody.JobId, lockBody.Provider, lockBody.Amount, lockBody.ExpiresAt));

        await using var events = await SseStream.OpenAsync(client.Http, id);
        await client.LockAsync(market.Node, job);

        var offer = await provider.NextJobAsync();
        Assert.Equal(id, Id(offer));
        Assert.Equal(Prompt, offer.Input.GetProperty("prompt").GetString());
        Assert.Equal(price.Units, offer.Amount.Units);
        Assert.Equal(JobStates.Dispatched, (await market.JobAsync(id)).GetProperty("state").GetString());
        var escrow = await market.Node.Client.EscrowAsync(id);
        Assert.NotNull(escrow);
        Assert.Equal(("locked", price, provider.Address, client.Address), (escrow.Status, escrow.Amount, escrow.Provider, escrow.Client));

        await provider.AcceptAsync(id);
        await market.WaitForStateAsync(id, JobStates.Running);
        var tokens = FakeProvider.Tokens(offer);
        foreach (var t in tokens)
        {
            await provider.TokenAsync(id, t);
        }
        var output = string.Concat(tokens);
        Assert.Equal(Prompt, output);
        await MarketFixture.Eventually(() => Task.FromResult(events.Text == output), "the streamed tokens on the event stream", () => events.Text);

        var (tokensIn, tokensOut, amount) = FakeProvider.Meter(offer, tokens);
        Assert.True(amount < price && amount.Units > Fee, $"metered {amount}, quoted {price}");
        var receipt = provider.SignReceipt(offer, tokensIn, tokensOut, amount, output);
        var posted = (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK);
        Assert.Equal(receipt.Hash.ToString(), posted.GetProperty("receiptHash").GetString());
        var done = await market.WaitForStateAsync(id, JobStates.Completed);
        Assert.Equal((tokensIn, tokensOut), (done.GetProperty("tokensIn").GetInt64(), done.GetProperty("tokensOut").GetInt64()));
        foreach (var at in new[] { "fundedAt", "dispatchedAt", "acceptedAt", "finishedAt" })
        {
            Assert.Equal(JsonValueKind.Number, done.GetProperty(at).ValueKind);
        }

        var settled = await provider.SubmitAsync(new EscrowSettleBody(id, amount, receipt.Hash));
        Assert.True(settled.Committed, $"settle: {settled.Problem}");
        await MarketFixture.Eventually(async () => (await market.JobAsync(id)).TryGetProperty("charged", out _), "the market to see the settlement");
        Assert.Equal(amount.Units, Units(await market.JobAsync(id), "charged"));

        // The provider gets the metered amount less its settle fee; the client gets back all it locked beyond the metered amount.
        Assert.Equal(amount.Units - Fee, (await market.Node.BalanceAsync(provider.Address)).Units);
        Assert.Equal(Funded - amount.Units - Fee, (await market.Node.BalanceAsync(client.Address)).Units);
        var onChain = await market.Node.Client.EscrowAsync(id);
        Assert.Equal(("settled", amount, receipt.Hash), (onChain!.Status, onChain.Paid, onChain.Receipt!.Value));

        var result = (await client.GetAsync($"/v1/jobs/{id}/result")).Expect(HttpStatusCode.OK);
        Assert.Equal(output, result.GetProperty("output").GetString());
        Assert.True(UsageReceipt.TryParse(result.GetProperty("receipt"), out var returned, out var why), why);
        Assert.True(returned.VerifySignature());
        Assert.Equal(receipt.Hash, returned.Hash);
        Assert.Equal(receipt.Hash.ToString(), result.GetProperty("receiptHash").GetString());

        await events.ReadToEndAsync();
        Assert.True(events.States.SequenceEqual([JobStates.AwaitingPayment, JobStates.Funded, JobStates.Dispatched, JobStates.Running, JobStates.Completed]),
            string.Join("\n", events.Events.Select(e => $"{e.Name}: {e.Data}")));
        Assert.Equal(output, events.Text);

        Assert.Equal(1, await market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.DispatchCount).SingleAsync()));
        var record = (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");
        Assert.Equal((1, 0, 0, 0), (record.GetProperty("completed").GetInt32(), record.GetProperty("failed").GetInt32(), record.GetProperty("timedOut").GetInt32(),
            record.GetProperty("overcharged").GetInt32()));
    }

    [Fact]
    public async Task A_provider_daemon_checks_the_escrow_completes_and_settles_a_chat_job_by_itself()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(Funded);
        var body = JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "system", content = "be brief" }, new { role = "user", content = "count one two three" } },
            maxTokens = 3,
            maxPrice = "10000000000",
            idempotencyKey = "chat-1",
        });
        var job = (await client.PostAsync("/v1/jobs", body)).Expect(HttpStatusCode.Created);
        var id = Id(job);
        await client.LockAsync(market.Node, job);

        await market.WaitForStateAsync(id, JobStates.Completed);
        await MarketFixture.Eventually(async () => (await market.JobAsync(id)).TryGetProperty("charged", out _), "the settlement", () => string.Join("; ", provider.Errors));
        var receipt = provider.Completed[id];
        Assert.Equal(receipt.Amount.Units, Units(await market.JobAsync(id), "charged"));
        Assert.Equal("be brief count", (await client.GetAsync($"/v1/jobs/{id}/result")).Expect(HttpStatusCode.OK).GetProperty("output").GetString());
        Assert.Equal(receipt.Amount.Units - Fee, (await market.Node.BalanceAsync(provider.Address)).Units);
        Assert.Equal(Funded - receipt.Amount.Units - Fee, (await market.Node.BalanceAsync(client.Address)).Units);
        Assert.Empty(provider.Errors);
    }

    // The market.

    [Fact]
    public async Task The_catalog_lists_each_live_model_with_its_providers_prices_and_free_capacity()
    {
        var model = market.NewModel();
        await using var dear = await market.NewProviderAsync(model, priceIn: 2 * Ait, priceOut: 5 * Ait, concurrency: 3);
        await using var cheap = await market.NewProviderAsync(model, priceIn: 4 * Ait, priceOut: 3 * Ait, concurrency: 2);
        await using var gone = await market.NewProviderAsync(model, priceIn: 1, priceOut: 1, connect: false);
        (await AdminPostAsync($"/v1/admin/providers/{gone.Address}/suspend")).Expect(HttpStatusCode.NoContent);

        var models = (await market.GetAsync("/v1/models")).Expect(HttpStatusCode.OK).GetProperty("models");
        var entry = models.EnumerateArray().Single(m => m.GetProperty("model").GetString() == model);
        Assert.Equal([FakeProvider.Digest], entry.GetProperty("digests").EnumerateArray().Select(d => d.GetString()!).ToArray());
        Assert.Equal((2 * Ait, 4 * Ait, 3 * Ait, 5 * Ait), (Units(entry, "minPriceIn"), Units(entry, "maxPriceIn"), Units(entry, "minPriceOut"), Units(entry, "maxPriceOut")));
        Assert.Equal(5, entry.GetProperty("freeCapacity").GetInt32());
        Assert.Equal([cheap.Address.ToString(), dear.Address.ToString()],
            entry.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("address").GetString()!).ToArray());
    }

    [Fact]
    public async Task The_cheapest_live_provider_gets_the_job_and_a_max_price_below_every_quote_is_refused()
    {
        var model = market.NewModel();
        await using var dear = await market.NewProviderAsync(model, priceIn: 9 * Ait, priceOut: 9 * Ait);
        await using var cheap = await market.NewProviderAsync(model, priceIn: 2 * Ait, priceOut: 2 * Ait);
        using var client = await market.NewClientAsync(0);
        var job = await client.SubmitCreatedAsync(model);
        Assert.Equal(cheap.Address.ToString(), job.GetProperty("provider").GetString());

        var refused = (await client.SubmitAsync(model, Prompt, maxPrice: 1)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
        // The input's token bound: its UTF-8 bytes, 8 per message, 32 for the template; 16 output tokens by default.
        Assert.Equal(Pricing.Cost(Prompt.Length + 8 + 32, 16, new Amount(2 * Ait), new Amount(2 * Ait))!.Value.ToString(), refused.Json.GetProperty("cheapestQuote").GetString());
        Assert.Equal(1, await JobsOfAsync(client.Address));
    }

    [Fact]
    public async Task Registering_again_replaces_the_offers_and_a_deregistered_provider_leaves_the_market()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, priceIn: 5 * Ait, priceOut: 5 * Ait);
        var again = new FakeProvider(provider.Key, market.Coordinator.Uri, market.Node.Client, ChainNode.ChainId, market.Time, [(model, 1 * Ait, 2 * Ait), (model + "-large", 3 * Ait, 4 * Ait)]);
        await using (again)
        {
            var described = (await again.RegisterAsync()).Expect(HttpStatusCode.OK);
            Assert.Equal([(model, 1 * Ait), (model + "-large", 3 * Ait)],
                described.GetProperty("offers").EnumerateArray().Select(o => (o.GetProperty("model").GetString()!, Units(o, "priceIn"))).OrderBy(o => o.Item1, StringComparer.Ordinal).ToArray());
            using var client = await market.NewClientAsync(0);
            var job = await client.SubmitCreatedAsync(model);
            Assert.Equal(1 * Ait, Units(job, "priceIn"));

            (await again.PostAsync("/v1/providers/deregister", "{}")).Expect(HttpStatusCode.NoContent);
            (await again.HeartbeatAsync()).ExpectProblem(HttpStatusCode.NotFound, "unknown_provider");
            (await client.SubmitAsync(model, Prompt)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
            Assert.DoesNotContain((await market.GetAsync("/v1/models")).Expect(HttpStatusCode.OK).GetProperty("models").EnumerateArray(),
                m => m.GetProperty("model").GetString() == model);
        }
    }

    [Fact]
    public async Task A_provider_at_full_capacity_gets_no_more_jobs()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold, concurrency: 1);
        using var client = await market.NewClientAsync(Funded);
        await DispatchedAsync(client, provider, model);
        var full = (await client.SubmitAsync(model, Prompt)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
        Assert.Contains("full capacity", full.Detail, StringComparison.Ordinal);
        Assert.Equal(0, (await market.GetAsync("/v1/models")).Expect(HttpStatusCode.OK).GetProperty("models").EnumerateArray()
            .Single(m => m.GetProperty("model").GetString() == model).GetProperty("freeCapacity").GetInt32());
    }

    [Fact]
    public async Task The_same_idempotency_key_answers_the_same_job()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        var first = (await client.SubmitAsync(model, Prompt, idempotencyKey: "once")).Expect(HttpStatusCode.Created);
        var again = (await client.SubmitAsync(model, "another prompt", idempotencyKey: "once")).Expect(HttpStatusCode.OK);
        Assert.Equal(Id(first), Id(again));
        Assert.Equal(first.GetProperty("price").GetString(), again.GetProperty("price").GetString());
        Assert.Equal(1, await JobsOfAsync(client.Address));

        // The key is per client: another client with the same key gets a job of its own.
        using var other = await market.NewClientAsync(0);
        var theirs = (await other.SubmitAsync(model, Prompt, idempotencyKey: "once")).Expect(HttpStatusCode.Created);
        Assert.NotEqual(Id(first), Id(theirs));
    }

    [Fact]
    public async Task Concurrent_submissions_with_one_idempotency_key_create_one_job()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        // Each body differs (so no signature repeats), the key is the same: they race into one group commit or several.
        var replies = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => client.SubmitAsync(model, $"{Prompt} #{i}", idempotencyKey: "burst")));
        Assert.All(replies, r => Assert.True(r.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"{(int)r.Status}: {r.Text}"));
        Assert.Single(replies, r => r.Status == HttpStatusCode.Created);
        Assert.Single(replies.Select(r => Id(r.Json)).Distinct());
        Assert.Equal(1, await JobsOfAsync(client.Address));
    }

    [Fact]
    public async Task A_key_with_a_control_character_is_refused_and_spoils_no_one_elses_submission()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var honest = await market.NewClientAsync(0);
        using var mischief = await market.NewClientAsync(0);
        // Sent together, so that with group commit they would share batches: a NUL in a key must not fail the others.
        var bad = Enumerable.Range(0, 16).Select(i => mischief.SubmitAsync(model, $"{Prompt} #{i}", idempotencyKey: $"k{i}\u0000"));
        var good = Enumerable.Range(0, 16).Select(i => honest.SubmitAsync(model, $"{Prompt} #{i}"));
        var replies = await Task.WhenAll(bad.Concat(good));
        Assert.All(replies[..16], r => r.ExpectProblem(HttpStatusCode.BadRequest, "invalid_job"));
        Assert.All(replies[16..], r => r.Expect(HttpStatusCode.Created));
        Assert.Equal(0, await JobsOfAsync(mischief.Address));
        Assert.Equal(16, await JobsOfAsync(honest.Address));
    }

    [Fact]
    public async Task A_job_the_database_refuses_fails_alone_and_the_writer_goes_on()
    {
        var writer = market.Coordinator.Services.GetRequiredService<JobWriter>();
        var client = TestKeys.Named("writer-client").Address.ToString();
        JobEntity Job(string id, string key) => new()
        {
            Id = id, Client = client, IdempotencyKey = key, Provider = client, Model = "m", ModelDigest = "d", Input = "{}",
            State = JobStates.AwaitingPayment, CreatedAt = market.Time.NowMs, PaymentDeadline = market.Time.NowMs + 60_000,
        };
        var taken = "job-" + Guid.NewGuid().ToString("N");
        Assert.True(await writer.TryInsert(Job(taken, "first"), CancellationToken.None)!);

        // Queued together: the one whose id is taken (a primary-key conflict, which ON CONFLICT on the key does not
        // cover) fails; the others are written, whether they shared its batch or not; and the writer still writes after.
        var dup = writer.TryInsert(Job(taken, "second"), CancellationToken.None)!;
        var fresh = Enumerable.Range(0, 10).Select(i => writer.TryInsert(Job("job-" + Guid.NewGuid().ToString("N"), $"fresh-{i}"), CancellationToken.None)!).ToArray();
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => dup);
        Assert.All(await Task.WhenAll(fresh), Assert.True);
        Assert.True(await writer.TryInsert(Job("job-" + Guid.NewGuid().ToString("N"), "after"), CancellationToken.None)!);
        Assert.False(await writer.TryInsert(Job("job-" + Guid.NewGuid().ToString("N"), "after"), CancellationToken.None)!, "a taken key is not inserted");
        Assert.Equal(12, await market.DbAsync(db => db.Jobs.CountAsync(j => j.Client == client)));
    }

    [Fact]
    public async Task A_silent_provider_leaves_the_market_and_its_next_heartbeat_brings_it_back()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        await client.SubmitCreatedAsync(model);

        await provider.StopHeartbeatsAsync();
        market.Time.Advance(TimeSpan.FromSeconds(market.Options.HeartbeatTimeoutSeconds + 1));
        var until = DateTime.UtcNow.AddSeconds(10);
        while ((await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("status").GetString() != "offline")
        {
            Assert.True(DateTime.UtcNow < until, "the sweeper did not mark the silent provider offline");
            await Task.Delay(50);
        }
        var gone = (await client.SubmitAsync(model, Prompt)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
        Assert.Contains("offline", gone.Detail, StringComparison.Ordinal);

        (await provider.HeartbeatAsync()).Expect(HttpStatusCode.OK);
        Assert.Equal(provider.Address.ToString(), (await client.SubmitCreatedAsync(model)).GetProperty("provider").GetString());
    }

    // Failure paths.

    [Fact]
    public async Task A_job_nobody_can_serve_is_refused_with_no_provider()
    {
        using var client = await market.NewClientAsync(0);
        var unknown = (await client.SubmitAsync(market.NewModel(), Prompt)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
        Assert.Contains("GET /v1/models", unknown.Detail, StringComparison.Ordinal);

        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        (await AdminPostAsync($"/v1/admin/providers/{provider.Address}/suspend")).Expect(HttpStatusCode.NoContent);
        var offline = (await client.SubmitAsync(model, Prompt)).ExpectProblem(HttpStatusCode.Conflict, "no_provider");
        Assert.Contains("offline", offline.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await JobsOfAsync(client.Address));
    }

    [Fact]
    public async Task A_job_never_funded_expires_after_the_payment_window()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        var job = await client.SubmitCreatedAsync(model);
        Assert.Equal(job.GetProperty("createdAt").GetInt64() + (market.Options.PaymentWindowSeconds * 1000L), job.GetProperty("paymentDeadline").GetInt64());

        market.Time.Advance(TimeSpan.FromSeconds(market.Options.PaymentWindowSeconds + 1));
        var expired = await market.WaitForStateAsync(Id(job), JobStates.Expired);
        Assert.Equal("unfunded", expired.GetProperty("failureCode").GetString());
        Assert.Empty(provider.Received);
        (await client.GetAsync($"/v1/jobs/{Id(job)}/result")).ExpectProblem(HttpStatusCode.Conflict, "not_ready");
    }

    [Fact]
    public async Task A_provider_that_goes_offline_before_accepting_fails_its_dispatched_job()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, _) = await DispatchedAsync(client, provider, model);

        await provider.StopHeartbeatsAsync();
        await provider.DisconnectAsync();
        market.Time.Advance(TimeSpan.FromSeconds(market.Options.HeartbeatTimeoutSeconds + 1));
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("provider_offline", failed.GetProperty("failureCode").GetString());
        Assert.Equal("offline", (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_funded_job_fails_when_its_provider_goes_offline_without_ever_connecting()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, connect: false);
        using var client = await market.NewClientAsync(Funded);
        var job = await client.SubmitCreatedAsync(model);
        await client.LockAsync(market.Node, job);
        await market.WaitForStateAsync(Id(job), JobStates.Funded);

        await provider.StopHeartbeatsAsync();
        market.Time.Advance(TimeSpan.FromSeconds(market.Options.HeartbeatTimeoutSeconds + 1));
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("provider_offline", failed.GetProperty("failureCode").GetString());
        Assert.False(failed.TryGetProperty("dispatchedAt", out _), "never dispatched");
    }

    [Fact]
    public async Task A_provider_that_does_not_accept_in_time_loses_the_job()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, offer) = await DispatchedAsync(client, provider, model);
        Assert.True(offer.AcceptBy > offer.ExpiresAt - (market.Options.JobTimeoutSeconds * 1000L) - (market.Options.PaymentWindowSeconds * 1000L));

        market.Time.Advance(TimeSpan.FromSeconds(market.Options.AcceptTimeoutSeconds + 1));
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("accept_timeout", failed.GetProperty("failureCode").GetString());
        // The timeout sends the provider out of matching for a cool-down (docs/coordinator.md); the clock is moved past it.
        // The moved clock also outran the provider's heartbeats (it was marked offline in that same sweep): it speaks up again.
        await PastCooldownAsync(provider);

        // Accepting late changes nothing.
        await provider.AcceptAsync(Id(job));
        await MarkerAsync(client, provider, model);
        Assert.Equal(JobStates.Failed, (await market.JobAsync(Id(job))).GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_running_job_not_finished_before_its_escrow_expires_fails_with_timeout()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, offer) = await RunningAsync(client, provider, model);

        market.Time.Advance(TimeSpan.FromMilliseconds(job.GetProperty("expiresAt").GetInt64() - market.Time.NowMs + 1_000));
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("timeout", failed.GetProperty("failureCode").GetString());
        // A result after that is refused.
        var tokens = FakeProvider.Tokens(offer);
        var (tokensIn, tokensOut, amount) = FakeProvider.Meter(offer, tokens);
        (await provider.PostResultAsync(Id(job), string.Concat(tokens), provider.SignReceipt(offer, tokensIn, tokensOut, amount, string.Concat(tokens))))
            .ExpectProblem(HttpStatusCode.Conflict, "wrong_state");
        var record = (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");
        Assert.Equal(1, record.GetProperty("timedOut").GetInt32());
    }

    [Fact]
    public async Task A_provider_that_fails_fails_the_job_and_its_refund_returns_the_escrow()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        await market.Node.FundAsync(provider.Address, Ait);
        using var client = await market.NewClientAsync(Funded);
        var (job, _) = await RunningAsync(client, provider, model);
        var id = Id(job);

        (await provider.PostFailureAsync(id, "out of GPU memory")).Expect(HttpStatusCode.OK);
        var failed = await market.WaitForStateAsync(id, JobStates.Failed);
        Assert.Equal("provider_failed", failed.GetProperty("failureCode").GetString());
        Assert.Contains("out of GPU memory", failed.GetProperty("failureReason").GetString(), StringComparison.Ordinal);

        var refund = await provider.SubmitAsync(new EscrowRefundBody(id));
        Assert.True(refund.Committed, $"refund: {refund.Problem}");
        await MarketFixture.Eventually(async () => (await market.JobAsync(id)).TryGetProperty("charged", out _), "the market to see the refund");
        Assert.Equal(0UL, Units(await market.JobAsync(id), "charged"));
        Assert.Equal(Funded - Fee, (await market.Node.BalanceAsync(client.Address)).Units);
        Assert.Equal(Ait - Fee, (await market.Node.BalanceAsync(provider.Address)).Units);
        var record = (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");
        Assert.Equal(1, record.GetProperty("failed").GetInt32());
    }

    [Fact]
    public async Task A_settle_above_the_verified_receipt_or_for_a_failed_job_counts_as_overcharged_in_the_record()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        await market.Node.FundAsync(provider.Address, Ait);
        using var client = await market.NewClientAsync(Funded);

        // Settles on the chain, then waits until the market has seen it.
        async Task SettleAsync(string jobId, Amount amount, Hash256 receipt)
        {
            Assert.True((await provider.SubmitAsync(new EscrowSettleBody(jobId, amount, receipt))).Committed);
            await MarketFixture.Eventually(async () => (await market.JobAsync(jobId)).TryGetProperty("charged", out _), "the market to see the settle");
        }

        // Completes a job with a verified receipt, then settles it for what `charge` picks from the metered cost and the escrow.
        async Task<UsageReceipt> CompleteAndSettleAsync(Func<Amount, Amount, Amount> charge)
        {
            var (job, offer) = await RunningAsync(client, provider, model);
            var tokens = FakeProvider.Tokens(offer);
            var (tokensIn, tokensOut, metered) = FakeProvider.Meter(offer, tokens);
            var receipt = provider.SignReceipt(offer, tokensIn, tokensOut, metered, string.Concat(tokens));
            (await provider.PostResultAsync(Id(job), string.Concat(tokens), receipt)).Expect(HttpStatusCode.OK);
            var escrow = Amount.Parse(job.GetProperty("price").GetString()!);
            Assert.True(escrow > metered, $"the escrow ({escrow}) must exceed the metered cost ({metered}) for this test");
            await SettleAsync(Id(job), charge(metered, escrow), receipt.Hash);
            return receipt;
        }

        // Settled for the whole escrow: more than the receipt says.
        var receipt = await CompleteAndSettleAsync((_, escrow) => escrow);
        // Failed by the provider, then settled anyway.
        var (failedJob, _) = await RunningAsync(client, provider, model);
        (await provider.PostFailureAsync(Id(failedJob), "the GPU fell over")).Expect(HttpStatusCode.OK);
        await SettleAsync(Id(failedJob), new Amount(1), receipt.Hash);
        await PastCooldownAsync(provider);
        // And one done right: settled for exactly what its receipt says.
        await CompleteAndSettleAsync((metered, _) => metered);

        var record = (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");
        Assert.Equal((2, 1, 2), (record.GetProperty("completed").GetInt32(), record.GetProperty("failed").GetInt32(), record.GetProperty("overcharged").GetInt32()));
        // Three jobs, each counted once; one of them good.
        Assert.Equal(1.0 / 3, record.GetProperty("score").GetDouble(), 9);
    }

    [Fact]
    public async Task A_provider_that_declines_the_job_fails_it()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Reject);
        using var client = await market.NewClientAsync(Funded);
        var job = await client.SubmitCreatedAsync(model);
        await client.LockAsync(market.Node, job);
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("provider_rejected", failed.GetProperty("failureCode").GetString());
        Assert.Contains("draining", failed.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_canceled_before_payment_stays_canceled_when_an_escrow_arrives_later()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(Funded);
        using var stranger = await market.NewClientAsync(0);
        var job = await client.SubmitCreatedAsync(model);
        var id = Id(job);

        (await stranger.CancelAsync(id)).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        Assert.Equal(JobStates.AwaitingPayment, (await market.JobAsync(id)).GetProperty("state").GetString());
        var canceled = (await client.CancelAsync(id)).Expect(HttpStatusCode.OK);
        Assert.Equal(JobStates.Canceled, canceled.GetProperty("state").GetString());
        var after = await market.JobAsync(id);
        Assert.Equal((JobStates.Canceled, "canceled"), (after.GetProperty("state").GetString(), after.GetProperty("failureCode").GetString()));
        (await client.CancelAsync(id)).ExpectProblem(HttpStatusCode.Conflict, "wrong_state");

        // A lock that comes anyway neither funds nor dispatches it (the chain follower works in order: the next job's funding shows it was seen).
        await client.LockAsync(market.Node, job);
        await MarkerAsync(client, provider, model);
        Assert.Equal(JobStates.Canceled, (await market.JobAsync(id)).GetProperty("state").GetString());
        Assert.False(provider.Received.ContainsKey(id));
    }

    [Fact]
    public async Task A_dispatched_job_can_no_longer_be_canceled()
    {
        // Once dispatched, the provider may already be at work and settle for it: the result must then be delivered.
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, _) = await DispatchedAsync(client, provider, model);
        var id = Id(job);
        (await client.CancelAsync(id)).ExpectProblem(HttpStatusCode.Conflict, "wrong_state");
        Assert.Equal(JobStates.Dispatched, (await market.JobAsync(id)).GetProperty("state").GetString());

        await provider.AcceptAsync(id);
        await market.WaitForStateAsync(id, JobStates.Running);
        (await client.CancelAsync(id)).ExpectProblem(HttpStatusCode.Conflict, "wrong_state");
        Assert.Equal(JobStates.Running, (await market.JobAsync(id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task An_escrow_that_does_not_match_the_quote_fails_the_job_with_escrow_mismatch()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(Funded);
        var job = await client.SubmitCreatedAsync(model);
        await client.LockAsync(market.Node, job, amount: Units(job, "price") - 1);
        var failed = await market.WaitForStateAsync(Id(job), JobStates.Failed);
        Assert.Equal("escrow_mismatch", failed.GetProperty("failureCode").GetString());
        Assert.Contains("less than the price", failed.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.False(provider.Received.ContainsKey(Id(job)));
    }

    /// <summary>Moves the market's clock past a provider's first cool-down (a failure or timeout just happened), and heartbeats it back online.</summary>
    private async Task PastCooldownAsync(FakeProvider provider)
    {
        market.Time.Advance(TimeSpan.FromSeconds(market.Options.CooldownSeconds + 1));
        await MarketFixture.Eventually(async () => (await provider.HeartbeatAsync()).Status == HttpStatusCode.OK
            && (await market.GetAsync($"/v1/providers/{provider.Address}")).Json.GetProperty("status").GetString() == "online", "the provider back online");
    }

    /// <summary>A second job for the same provider, funded: once it is dispatched (or running), everything before it on the chain and the connection was handled.</summary>
    private async Task MarkerAsync(MarketAgent client, FakeProvider provider, string model)
    {
        var marker = await client.SubmitCreatedAsync(model);
        await client.LockAsync(market.Node, marker);
        if (provider.Mode == ProviderMode.Hold)
        {
            var offer = await provider.NextJobAsync();
            Assert.Equal(Id(marker), Id(offer));
            await provider.AcceptAsync(Id(marker));
            await market.WaitForStateAsync(Id(marker), JobStates.Running);
        }
        else
        {
            await market.WaitForStateAsync(Id(marker), JobStates.Completed, provider);
        }
    }

    // Refusals: each leaves everything as it was.

    private async Task<Reply> SendSignedAsync(string method, string path, string body, Ed25519Key signer, Address? claimed = null, long? timestamp = null,
        string? signedBody = null)
    {
        var ts = timestamp ?? market.Time.NowMs;
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        request.Headers.Add(HttpSignature.AddressHeader, (claimed ?? signer.Address).ToString());
        request.Headers.Add(HttpSignature.TimestampHeader, ts.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(HttpSignature.SignatureHeader, HttpSignature.Sign(signer, method, path, ts, Encoding.UTF8.GetBytes(signedBody ?? body)));
        using var response = await market.Http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    [Fact]
    public async Task Unsigned_badly_signed_stale_and_replayed_requests_are_refused_and_change_nothing()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        var body = MarketAgent.JobBody(model, Prompt, idempotencyKey: "signed-once");

        using (var unsigned = new StringContent(body, Encoding.UTF8, "application/json"))
        {
            using var response = await market.Http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), unsigned);
            (await Reply.FromAsync(response)).ExpectProblem(HttpStatusCode.Unauthorized, "unsigned");
        }
        // Signed over another body; signed by another key in the client's name.
        (await SendSignedAsync("POST", "/v1/jobs", body, client.Key, signedBody: body.Replace("hello", "HELLO", StringComparison.Ordinal)))
            .ExpectProblem(HttpStatusCode.Unauthorized, "bad_signature");
        using var impostor = TestKeys.Fresh();
        (await SendSignedAsync("POST", "/v1/jobs", body, impostor, claimed: client.Address)).ExpectProblem(HttpStatusCode.Unauthorized, "bad_signature");
        // More than 60 s off the coordinator's clock, either way.
        (await SendSignedAsync("POST", "/v1/jobs", body, client.Key, timestamp: market.Time.NowMs - 61_000)).ExpectProblem(HttpStatusCode.Unauthorized, "stale_signature");
        (await SendSignedAsync("POST", "/v1/jobs", body, client.Key, timestamp: market.Time.NowMs + 61_000)).ExpectProblem(HttpStatusCode.Unauthorized, "stale_signature");
        Assert.Equal(0, await JobsOfAsync(client.Address));

        // The same signed request twice: the second is a replay.
        var ts = market.Time.NowMs;
        (await SendSignedAsync("POST", "/v1/jobs", body, client.Key, timestamp: ts)).Expect(HttpStatusCode.Created);
        (await SendSignedAsync("POST", "/v1/jobs", body, client.Key, timestamp: ts)).ExpectProblem(HttpStatusCode.Unauthorized, "replayed_signature");
        Assert.Equal(1, await JobsOfAsync(client.Address));

        // Providers' calls are signed too, the dispatch connection included.
        using (var unsigned = new StringContent("{}", Encoding.UTF8, "application/json"))
        {
            using var response = await market.Http.PostAsync(new Uri("/v1/providers/heartbeat", UriKind.Relative), unsigned);
            (await Reply.FromAsync(response)).ExpectProblem(HttpStatusCode.Unauthorized, "unsigned");
        }
        var (address, _, signature) = provider.SignHeaders("GET", "/v1/providers/connect", market.Time.NowMs - 61_000);
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader(HttpSignature.AddressHeader, address);
        socket.Options.SetRequestHeader(HttpSignature.TimestampHeader, (market.Time.NowMs - 61_000).ToString(CultureInfo.InvariantCulture));
        socket.Options.SetRequestHeader(HttpSignature.SignatureHeader, signature);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new UriBuilder(new Uri(market.Coordinator.Uri, "/v1/providers/connect")) { Scheme = "ws" }.Uri, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Only_the_assigned_provider_may_post_a_result_and_never_for_more_than_the_escrow()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        var otherModel = market.NewModel();
        await using var other = await market.NewProviderAsync(otherModel, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, offer) = await RunningAsync(client, provider, model);
        var id = Id(job);
        var price = Units(job, "price");
        var before = (await market.JobAsync(id)).ToString();
        var tokens = FakeProvider.Tokens(offer);
        var output = string.Concat(tokens);
        var (tokensIn, tokensOut, amount) = FakeProvider.Meter(offer, tokens);

        // Another provider: neither a result (with its own signed receipt) nor a failure.
        (await other.PostResultAsync(id, output, other.SignReceipt(offer, tokensIn, tokensOut, amount, output))).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        (await other.PostFailureAsync(id, "not mine to fail")).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");

        // The assigned provider, with receipts that do not hold.
        var over = (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, tokensIn, tokensOut, new Amount(price + 1), output)))
            .ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        Assert.Contains("exceeds the escrow", over.Detail, StringComparison.Ordinal);
        (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, tokensIn, tokensOut, new Amount(amount.Units + 1), output)))
            .ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, tokensIn, offer.MaxTokens + 1, amount, output)))
            .ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        (await provider.PostResultAsync(id, output + "!", provider.SignReceipt(offer, tokensIn, tokensOut, amount, output)))
            .ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        var forged = provider.SignReceipt(offer, tokensIn, tokensOut, amount, output) with { Signature = other.Key.Sign(provider.SignReceipt(offer, tokensIn, tokensOut, amount, output).SigningBytes()) };
        (await provider.PostResultAsync(id, output, forged)).ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        Assert.Equal(before, (await market.JobAsync(id)).ToString());
        (await client.GetAsync($"/v1/jobs/{id}/result")).ExpectProblem(HttpStatusCode.Conflict, "not_ready");

        // Tokens another provider streams into this job reach none of its listeners (its own job's accept, after it on its connection, shows it was handled).
        await using var events = await SseStream.OpenAsync(client.Http, id);
        await other.TokenAsync(id, "injected");
        await RunningAsync(client, other, otherModel);
        Assert.DoesNotContain("injected", events.Text, StringComparison.Ordinal);

        // The true result is taken, once: the same result again is acknowledged alike (the provider retries until it is), another is refused.
        var receipt = provider.SignReceipt(offer, tokensIn, tokensOut, amount, output);
        var first = (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK);
        Assert.Equal(first.ToString(), (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK).ToString());
        var fewer = Pricing.Cost(tokensIn, tokensOut - 1, offer.PriceIn, offer.PriceOut)!.Value;
        var shorter = string.Concat(tokens.SkipLast(1));
        (await provider.PostResultAsync(id, shorter, provider.SignReceipt(offer, tokensIn, tokensOut - 1, fewer, shorter))).ExpectProblem(HttpStatusCode.Conflict, "already_completed");
        await events.ReadToEndAsync();
        Assert.DoesNotContain("injected", events.Text, StringComparison.Ordinal);
        Assert.Equal(JobStates.Completed, (await market.JobAsync(id)).GetProperty("state").GetString());
    }

    // The service around the market.

    private async Task<Reply> AdminPostAsync(string path, string? token = MarketFixture.AdminToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        if (token is not null)
        {
            request.Headers.Add("AITBC-Admin-Token", token);
        }
        using var response = await market.Http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    [Fact]
    public async Task Admin_endpoints_need_the_admin_token()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, connect: false);
        (await market.GetAsync("/v1/admin/jobs")).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        (await market.GetAsync("/v1/admin/jobs", r => r.Headers.Add("AITBC-Admin-Token", "wrong"))).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        (await AdminPostAsync($"/v1/admin/providers/{provider.Address}/suspend", token: null)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        (await AdminPostAsync($"/v1/admin/providers/{provider.Address}/suspend", token: "wrong")).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal("online", (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("status").GetString());

        using var client = await market.NewClientAsync(0);
        var job = await client.SubmitCreatedAsync(model);
        var jobs = (await market.GetAsync("/v1/admin/jobs?state=awaiting_payment&limit=1000", r => r.Headers.Add("AITBC-Admin-Token", MarketFixture.AdminToken)))
            .Expect(HttpStatusCode.OK);
        Assert.Contains(jobs.EnumerateArray(), j => Id(j) == Id(job));
        Assert.All(jobs.EnumerateArray(), j => Assert.Equal(JobStates.AwaitingPayment, j.GetProperty("state").GetString()));
        (await market.GetAsync("/v1/admin/jobs?limit=0", r => r.Headers.Add("AITBC-Admin-Token", MarketFixture.AdminToken)))
            .ExpectProblem(HttpStatusCode.BadRequest, "invalid_parameter");
        (await AdminPostAsync($"/v1/admin/providers/{provider.Address}/suspend")).Expect(HttpStatusCode.NoContent);
        Assert.Equal("suspended", (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("status").GetString());
        // A heartbeat does not bring a suspended provider back; resuming lets it register again.
        (await provider.HeartbeatAsync()).ExpectProblem(HttpStatusCode.Forbidden, "suspended");
        (await AdminPostAsync($"/v1/admin/providers/{provider.Address}/resume")).Expect(HttpStatusCode.NoContent);
        Assert.Equal("offline", (await market.GetAsync($"/v1/providers/{provider.Address}")).Expect(HttpStatusCode.OK).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_metrics_openapi_and_the_api_page_are_served()
    {
        (await market.GetAsync("/health/live")).Expect(HttpStatusCode.OK);
        (await market.GetAsync("/health/ready")).Expect(HttpStatusCode.OK);

        var metrics = await market.GetAsync("/metrics");
        metrics.Expect(HttpStatusCode.OK);
        foreach (var name in new[] { "aitbc_providers_online", "aitbc_provider_connections", "aitbc_jobs_dispatched_total", "aitbc_escrow_events_total" })
        {
            Assert.Single(PrometheusText.Samples(metrics.Text, name));
        }
        Assert.Equal(1, PrometheusText.Value(metrics.Text, "aitbc_chain_connected"));

        var openapi = (await market.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var paths = openapi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var path in new[] { "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/result", "/v1/jobs/{id}/events", "/v1/models", "/v1/providers/register" })
        {
            Assert.Contains(path, paths);
        }

        using var docs = await market.Http.GetAsync(new Uri("/docs/index.html", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
        (await market.GetAsync("/v1/jobs/job-does-not-exist")).ExpectProblem(HttpStatusCode.NotFound, "job_not_found");
    }

    [Fact]
    public async Task Metrics_count_jobs_by_state_and_time_their_dispatch()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var before = (await market.GetAsync("/metrics")).Text;

        await DispatchedAsync(client, provider, model);

        var after = (await market.GetAsync("/metrics")).Text;
        Assert.True(PrometheusText.Declares(after, "aitbc_jobs", "gauge"));
        Assert.True(PrometheusText.Value(after, "aitbc_jobs", "state=\"dispatched\"") >= 1);
        Assert.Equal(await market.DbAsync(db => db.Jobs.CountAsync(j => j.State == JobStates.Dispatched)),
            PrometheusText.Value(after, "aitbc_jobs", "state=\"dispatched\""));
        Assert.Single(PrometheusText.Samples(after, "aitbc_jobs", "state=\"awaiting_payment\""));
        Assert.Equal(PrometheusText.Value(before, "aitbc_jobs_dispatched_total") + 1, PrometheusText.Value(after, "aitbc_jobs_dispatched_total"));
        Assert.True(PrometheusText.Declares(after, "aitbc_dispatch_latency_seconds", "histogram"));
        Assert.Equal(PrometheusText.Samples(before, "aitbc_dispatch_latency_seconds_count").DefaultIfEmpty(0).Single() + 1,
            PrometheusText.Value(after, "aitbc_dispatch_latency_seconds_count"));
        Assert.Equal(PrometheusText.Value(after, "aitbc_dispatch_latency_seconds_count"),
            PrometheusText.Value(after, "aitbc_dispatch_latency_seconds_bucket", "le=\"+Inf\""));
    }

    [Fact]
    public async Task Health_live_runs_no_dependency_and_ready_runs_the_database_and_chain_checks()
    {
        // A coordinator whose node is gone: alive, not ready.
        await using var stranded = await market.StartCoordinatorAsync(o => o.Node = "http://127.0.0.1:9");

        using var http = new HttpClient { BaseAddress = stranded.Uri };
        var live = await Reply.FromAsync(await http.GetAsync(new Uri("/health/live", UriKind.Relative)));
        var ready = await Reply.FromAsync(await http.GetAsync(new Uri("/health/ready", UriKind.Relative)));

        Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Text));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), (ready.Status, ready.Text));
    }

    [Fact]
    public async Task Too_many_requests_from_one_address_get_a_429_problem()
    {
        await using var strict = await market.StartCoordinatorAsync(o => o.RateLimitPerSecond = 1);
        using var client = new MarketAgent(TestKeys.Fresh(), strict.Uri, market.Time);
        var replies = new List<Reply>();
        for (var i = 0; i < 10; i++)
        {
            replies.Add(await client.PostAsync("/v1/providers/heartbeat", "{}"));
        }
        Assert.Contains(replies, r => r.Status == HttpStatusCode.NotFound); // not registered: let through, and answered
        var limited = replies.First(r => r.Status == HttpStatusCode.TooManyRequests);
        limited.ExpectProblem(HttpStatusCode.TooManyRequests, "rate_limited");
    }

    [Fact]
    public async Task A_second_coordinator_on_the_same_database_sees_the_market_and_dispatches_to_providers_connected_to_it()
    {
        await using var second = await market.StartCoordinatorAsync(o => o.Instance = "extra");
        var model = market.NewModel();
        var provider = new FakeProvider(TestKeys.Fresh(), second.Uri, market.Node.Client, ChainNode.ChainId, market.Time, [(model, 3 * Ait, 7 * Ait)]);
        await using (provider)
        {
            await provider.StartAsync();
            using var client = await market.NewClientAsync(Funded); // talks to the first coordinator
            var job = await client.SubmitCreatedAsync(model);
            await client.LockAsync(market.Node, job);
            await market.WaitForStateAsync(Id(job), JobStates.Completed, provider);
            var id = Id(job);
            var dispatch = await market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => new { j.DispatchCount, j.DispatchedBy }).SingleAsync());
            Assert.Equal((1, "extra"), (dispatch.DispatchCount, dispatch.DispatchedBy));
        }
    }
}
