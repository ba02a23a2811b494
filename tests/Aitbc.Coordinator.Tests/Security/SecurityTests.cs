using System.Globalization;
using System.Net;
using System.Security.Cryptography;
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
using Microsoft.Extensions.Logging;

namespace Aitbc.Coordinator.Tests.Security;

public sealed class SqliteSecurityTests(SqliteMarket market) : SecurityTests<SqliteMarket>(market);

public sealed class PostgresSecurityTests(PostgresMarket market) : SecurityTests<PostgresMarket>(market);

/// <summary>
/// The attacks that the coordinator answers (docs/security.md), each performed against a real
/// coordinator on a real database following a real node: each is refused with its problem code, and nothing moved.
/// </summary>
public abstract class SecurityTests<TMarket>(TMarket market) : IClassFixture<TMarket>
    where TMarket : MarketFixture
{

    private Task<(JsonElement Job, JobOffer Offer)> RunningAsync(MarketAgent client, FakeProvider provider, string model) =>
        market.RunningAsync(client, provider, model, Prompt);

    private Task<string> StateAsync(string id) => market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.State).SingleAsync());

    /// <summary>The path of a job's event stream with the signature in its query, signed over <paramref name="signedPath"/> (its own path unless told).</summary>
    private string QuerySigned(Ed25519Key key, string id, string? signedPath = null)
    {
        var path = $"/v1/jobs/{id}/events";
        var ts = market.Time.NowMs;
        var signature = HttpSignature.Sign(key, "GET", signedPath ?? path, ts, []);
        return $"{path}?address={key.Address}&timestamp={ts.ToString(CultureInfo.InvariantCulture)}&signature={signature}";
    }

    /// <summary>Moves the clock on and brings the providers back online (the moved clock outran their heartbeats).</summary>
    private async Task AdvanceAsync(TimeSpan by, params FakeProvider[] providers)
    {
        market.Time.Advance(by);
        foreach (var p in providers)
        {
            await MarketFixture.Eventually(async () => (await p.HeartbeatAsync()).Status == HttpStatusCode.OK
                && (await market.GetAsync($"/v1/providers/{p.Address}")).Json.GetProperty("status").GetString() == "online", $"provider {p.Address} online");
        }
    }

    [Fact]
    public async Task Attack06_OnlyTheJobsClientAndProviderMayReadItsOutputAndEvents()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        using var stranger = await market.NewClientAsync(0);
        var (job, offer) = await RunningAsync(client, provider, model);
        var id = Id(job);

        // The event stream: unsigned, signed by a stranger (headers or query), or a query signature for another path.
        (await market.GetAsync($"/v1/jobs/{id}/events")).ExpectProblem(HttpStatusCode.Unauthorized, "unsigned");
        (await stranger.GetAsync($"/v1/jobs/{id}/events")).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        (await market.GetAsync(QuerySigned(stranger.Key, id))).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        (await market.GetAsync(QuerySigned(client.Key, id, signedPath: "/v1/jobs/job-another/events"))).ExpectProblem(HttpStatusCode.Unauthorized, "bad_signature");
        // The client, with the signature in the query (as an EventSource must), and the provider, with headers.
        await using var byQuery = await SseStream.OpenPathAsync(market.Http, QuerySigned(client.Key, id));
        await using var byProvider = await SseStream.OpenAsync(provider.Http, id);
        Assert.Equal([JobStates.Running], byQuery.States);

        var tokens = FakeProvider.Tokens(offer);
        var output = string.Concat(tokens);
        var (tokensIn, tokensOut, amount) = FakeProvider.Meter(offer, tokens);
        foreach (var t in tokens)
        {
            await provider.TokenAsync(id, t);
        }
        await MarketFixture.Eventually(() => Task.FromResult(byQuery.Text == output && byProvider.Text == output), "the tokens on both streams", () => byQuery.Text);
        (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, tokensIn, tokensOut, amount, output))).Expect(HttpStatusCode.OK);
        await byQuery.ReadToEndAsync();
        Assert.Equal(output, byQuery.Text);
        Assert.Equal([JobStates.Running, JobStates.Completed], byQuery.States);

        // The result: the same rule.
        (await market.GetAsync($"/v1/jobs/{id}/result")).ExpectProblem(HttpStatusCode.Unauthorized, "unsigned");
        (await stranger.GetAsync($"/v1/jobs/{id}/result")).ExpectProblem(HttpStatusCode.Forbidden, "not_your_job");
        Assert.Equal(output, (await client.GetAsync($"/v1/jobs/{id}/result")).Expect(HttpStatusCode.OK).GetProperty("output").GetString());
        using (var response = await provider.Http.GetAsync(new Uri($"/v1/jobs/{id}/result", UriKind.Relative)))
        {
            Assert.Equal(output, (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK).GetProperty("output").GetString());
        }

        // The job itself stays readable by anyone (its state and prices, which the chain shows anyway), never its input or output.
        var open = await market.JobAsync(id);
        Assert.Equal(JobStates.Completed, open.GetProperty("state").GetString());
        Assert.False(open.TryGetProperty("input", out _) || open.TryGetProperty("output", out _) || open.TryGetProperty("prompt", out _), open.ToString());
        Assert.DoesNotContain(Prompt, open.ToString(), StringComparison.Ordinal);
        Assert.Equal(output, await market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.Output).SingleAsync()));
    }

    [Fact]
    public async Task Attack08_RequestsInAnothersNameCannotSpendItsBucketAndOneIpIsLimitedBeforeAnySignatureIsChecked()
    {
        await using (var perAddress = await market.StartCoordinatorAsync(o => o.RateLimitPerSecond = 1))
        {
            using var victim = new MarketAgent(TestKeys.Fresh(), perAddress.Uri, market.Time);
            using var impostor = TestKeys.Fresh();
            using var raw = new HttpClient { BaseAddress = perAddress.Uri };
            // Signed by another key in the victim's name: refused as a bad signature every time, never counted as the victim's.
            for (var i = 0; i < 10; i++)
            {
                var ts = market.Time.NowMs + i;
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/providers/heartbeat", UriKind.Relative))
                {
                    Content = new StringContent("{}", Encoding.UTF8, "application/json"),
                };
                request.Headers.Add(HttpSignature.AddressHeader, victim.Address.ToString());
                request.Headers.Add(HttpSignature.TimestampHeader, ts.ToString(CultureInfo.InvariantCulture));
                request.Headers.Add(HttpSignature.SignatureHeader, HttpSignature.Sign(impostor, "POST", "/v1/providers/heartbeat", ts, "{}"u8));
                using var response = await raw.SendAsync(request);
                (await Reply.FromAsync(response)).ExpectProblem(HttpStatusCode.Unauthorized, "bad_signature");
            }
            // The victim's bucket is whole (a burst of two): both pass (and are answered: it is not registered), then it is limited.
            var replies = new List<Reply>();
            for (var i = 0; i < 10; i++)
            {
                replies.Add(await victim.PostAsync("/v1/providers/heartbeat", "{}"));
            }
            replies[0].ExpectProblem(HttpStatusCode.NotFound, "unknown_provider");
            replies[1].ExpectProblem(HttpStatusCode.NotFound, "unknown_provider");
            Assert.Contains(replies, r => r.Status == HttpStatusCode.TooManyRequests && r.Code == "rate_limited");
        }

        await using var perIp = await market.StartCoordinatorAsync(o => o.RateLimitPerIpPerSecond = 1);
        using var client = new MarketAgent(TestKeys.Fresh(), perIp.Uri, market.Time);
        using var http = new HttpClient { BaseAddress = perIp.Uri };
        var statuses = new List<(HttpStatusCode Status, string? RetryAfter, Reply Reply)>();
        for (var i = 0; i < 10; i++)
        {
            // Unsigned reads and signed submissions alike, from one IP.
            using var response = i % 2 == 0
                ? await http.GetAsync(new Uri("/v1/models", UriKind.Relative))
                : await client.Http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), new StringContent(MarketAgent.JobBody("nobody/serves", Prompt), Encoding.UTF8, "application/json"));
            statuses.Add((response.StatusCode, response.Headers.RetryAfter?.ToString(), await Reply.FromAsync(response)));
        }
        Assert.Equal(HttpStatusCode.OK, statuses[0].Status);
        var limited = statuses.First(s => s.Status == HttpStatusCode.TooManyRequests);
        limited.Reply.ExpectProblem(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.Equal("1", limited.RetryAfter);
        Assert.Equal(0, await market.DbAsync(db => db.Jobs.CountAsync(j => j.Client == client.Address.ToString())));
    }

    [Fact]
    public async Task Attack08_AFullSubmissionQueueAnswers503WithRetryAfterAndWritesNothingForThoseRefused()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, connect: false);
        await using var small = await market.StartCoordinatorAsync(o =>
        {
            o.SubmissionQueueLimit = 16;
            o.RateLimitPerSecond = 1_000_000;
            o.RateLimitPerIpPerSecond = 1_000_000;
        });
        using var client = new MarketAgent(TestKeys.Fresh(), small.Uri, market.Time);
        const int n = JobWriter.MaxBatch + 16 + 100;
        Task<(HttpStatusCode, string?, Reply)>[] sent;
        // The jobs table is held by another transaction: the writer's batch waits, the queue behind it fills.
        await using (var hold = await HoldJobsTableAsync())
        {
            sent = [.. Enumerable.Range(0, n).Select(async i =>
            {
                using var content = new StringContent(MarketAgent.JobBody(model, $"{Prompt} #{i}"), Encoding.UTF8, "application/json");
                using var response = await client.Http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content);
                return (response.StatusCode, response.Headers.RetryAfter?.ToString(), await Reply.FromAsync(response));
            })];
            await MarketFixture.Eventually(() => Task.FromResult(sent.Count(t => t.IsCompleted) >= 100), "the submissions beyond the queue to be refused");
        }
        var replies = await Task.WhenAll(sent);
        var busy = replies.Where(r => r.Item1 == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.True(busy.Count >= 100, $"{busy.Count} refused");
        Assert.All(busy, r =>
        {
            r.Item3.ExpectProblem(HttpStatusCode.ServiceUnavailable, "busy");
            Assert.Equal("1", r.Item2);
        });
        Assert.All(replies.Where(r => r.Item1 != HttpStatusCode.ServiceUnavailable), r => r.Item3.Expect(HttpStatusCode.Created));
        // Only the accepted ones were written.
        Assert.Equal(n - busy.Count, await market.DbAsync(db => db.Jobs.CountAsync(j => j.Client == client.Address.ToString())));
    }

    /// <summary>Holds the jobs table's write lock in a transaction of the test's own until disposed.</summary>
    private async Task<IAsyncDisposable> HoldJobsTableAsync()
    {
        var scope = market.Coordinator.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var tx = await db.Database.BeginTransactionAsync();
        await db.Database.ExecuteSqlRawAsync(market.Options.Database == DatabaseKind.Postgres ? "LOCK TABLE jobs IN EXCLUSIVE MODE" : "UPDATE jobs SET state = state WHERE 1 = 0");
        return new Held(async () =>
        {
            await tx.RollbackAsync();
            await tx.DisposeAsync();
            await scope.DisposeAsync();
        });
    }

    private sealed class Held(Func<Task> release) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await release();
    }

    [Fact]
    public async Task Attack08_AnUnfundedJobsInputIsPrunedWhenItExpires()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        var big = string.Join(' ', Enumerable.Repeat("padding", 10_000));
        var job = await client.SubmitCreatedAsync(model, big);
        var id = Id(job);
        Assert.Contains("padding", await market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.Input).SingleAsync()), StringComparison.Ordinal);

        market.Time.Advance(TimeSpan.FromSeconds(market.Options.PaymentWindowSeconds + 1));
        var expired = await market.WaitForStateAsync(id, JobStates.Expired);
        Assert.Equal("unfunded", expired.GetProperty("failureCode").GetString());
        Assert.Equal(JobEntity.PrunedInput, await market.DbAsync(db => db.Jobs.Where(j => j.Id == id).Select(j => j.Input).SingleAsync()));
        Assert.Null(await market.Node.EscrowAsync(id));
        Assert.Empty(provider.Received);
    }

    [Fact]
    public async Task Attack08_EventStreamsFromOneIpAreCapped()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        await using var capped = await market.StartCoordinatorAsync(o => o.MaxEventStreamsPerIp = 2);
        using var client = new MarketAgent(TestKeys.Fresh(), capped.Uri, market.Time);
        var id = Id((await client.SubmitAsync(model, Prompt)).Expect(HttpStatusCode.Created));

        var first = await SseStream.OpenAsync(client.Http, id);
        await using var second = await SseStream.OpenAsync(client.Http, id);
        var third = await client.GetAsync($"/v1/jobs/{id}/events");
        third.ExpectProblem(HttpStatusCode.TooManyRequests, "too_many_streams");

        // A stream closed gives its slot back.
        await first.DisposeAsync();
        await MarketFixture.Eventually(async () =>
        {
            using var response = await client.Http.GetAsync(new Uri($"/v1/jobs/{id}/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
            return response.StatusCode == HttpStatusCode.OK;
        }, "a slot to be free again");
        Assert.Equal(JobStates.AwaitingPayment, await StateAsync(id));
    }

    [Fact]
    public async Task Attack09_ACheapProviderThatNeverAcceptsLosesTheMarketToAnHonestDearerOne()
    {
        var model = market.NewModel();
        await using var fake = await market.NewProviderAsync(model, ProviderMode.Hold, priceIn: 1, priceOut: 1);
        await using var honest = await market.NewProviderAsync(model, ProviderMode.Complete, priceIn: 3 * Ait, priceOut: 7 * Ait);
        using var client = await market.NewClientAsync(Funded);

        // Cheapest, so quoted first; new and holding that open quote, it does not get the next while another can serve.
        var first = await client.SubmitCreatedAsync(model);
        Assert.Equal(fake.Address.ToString(), ProviderOf(first));
        var second = await client.SubmitCreatedAsync(model);
        Assert.Equal(honest.Address.ToString(), ProviderOf(second));
        await client.LockAsync(market.Node, first);
        Assert.Equal(Id(first), Id(await fake.NextJobAsync())); // and never accepted
        await client.LockAsync(market.Node, second);
        await market.WaitForStateAsync(Id(second), JobStates.Completed, honest);

        // Its timeout sends it out of matching: every job goes to the honest one.
        await AdvanceAsync(TimeSpan.FromSeconds(market.Options.AcceptTimeoutSeconds + 1));
        Assert.Equal("accept_timeout", (await market.WaitForStateAsync(Id(first), JobStates.Failed)).GetProperty("failureCode").GetString());
        await AdvanceAsync(TimeSpan.Zero, fake, honest);
        for (var i = 0; i < 3; i++)
        {
            var job = await client.SubmitCreatedAsync(model);
            Assert.Equal(honest.Address.ToString(), ProviderOf(job));
            await client.LockAsync(market.Node, job);
            await market.WaitForStateAsync(Id(job), JobStates.Completed, honest);
        }

        // After the cool-down it gets one more try (one job: the honest one is proven now), and a second timeout doubles the cool-down.
        await AdvanceAsync(TimeSpan.FromSeconds(market.Options.CooldownSeconds + 1), fake, honest);
        var retry = await client.SubmitCreatedAsync(model);
        Assert.Equal(fake.Address.ToString(), ProviderOf(retry));
        Assert.Equal(honest.Address.ToString(), ProviderOf(await client.SubmitCreatedAsync(model)));
        await client.LockAsync(market.Node, retry);
        Assert.Equal(Id(retry), Id(await fake.NextJobAsync()));
        await AdvanceAsync(TimeSpan.FromSeconds(market.Options.AcceptTimeoutSeconds + 1));
        await market.WaitForStateAsync(Id(retry), JobStates.Failed);
        await AdvanceAsync(TimeSpan.FromSeconds(market.Options.CooldownSeconds + 1), fake, honest);
        Assert.Equal(honest.Address.ToString(), ProviderOf(await client.SubmitCreatedAsync(model)));

        // The fake was never paid: its escrows stay locked for the client to refund at expiry.
        Assert.Equal(0UL, (await market.Node.BalanceAsync(fake.Address)).Units);
        Assert.Equal(("locked", "locked"), ((await market.Node.Client.EscrowAsync(Id(first)))!.Status, (await market.Node.Client.EscrowAsync(Id(retry)))!.Status));
        var record = (await market.GetAsync($"/v1/providers/{fake.Address}")).Expect(HttpStatusCode.OK).GetProperty("record");
        Assert.Equal((0, 2), (record.GetProperty("completed").GetInt32(), record.GetProperty("timedOut").GetInt32()));
    }

    [Fact]
    public async Task Attack10_AResultOfAMebibyteOfOutputIsTakenAndItsRepeatAcknowledgedButNotReplaced()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, offer) = await RunningAsync(client, provider, model);
        var id = Id(job);
        // The worst case of JSON escaping: every byte a control character, six bytes each on the wire.
        var output = new string('\u0001', JobsApi.MaxOutputBytes);
        var (tokensIn, _, _) = FakeProvider.Meter(offer, ["x"]);
        UsageReceipt Receipt(string text, long tokensOut) => provider.SignReceipt(offer, tokensIn, tokensOut,
            Pricing.Cost(tokensIn, tokensOut, offer.PriceIn, offer.PriceOut)!.Value, text);

        // A byte over the output limit: refused, nothing changed.
        var over = output + "\u0001";
        (await provider.PostResultAsync(id, over, Receipt(over, 1))).ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
        Assert.Equal(JobStates.Running, await StateAsync(id));

        var receipt = Receipt(output, 1);
        var taken = (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK);
        Assert.Equal(receipt.Hash.ToString(), taken.GetProperty("receiptHash").GetString());
        // The provider retries until acknowledged: the same result is acknowledged alike; another never replaces it.
        Assert.Equal(taken.ToString(), (await provider.PostResultAsync(id, output, receipt)).Expect(HttpStatusCode.OK).ToString());
        var other = output[..^1] + "!";
        (await provider.PostResultAsync(id, other, Receipt(other, 2))).ExpectProblem(HttpStatusCode.Conflict, "already_completed");

        var result = (await client.GetAsync($"/v1/jobs/{id}/result")).Expect(HttpStatusCode.OK);
        Assert.Equal(output, result.GetProperty("output").GetString());
        Assert.Equal(receipt.Hash.ToString(), result.GetProperty("receiptHash").GetString());
    }

    [Fact]
    public async Task Attack13_AReceiptCountingMoreInputTokensThanTheBoundIsRefused()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var (job, offer) = await RunningAsync(client, provider, model);
        var id = Id(job);
        var tokens = FakeProvider.Tokens(offer);
        var output = string.Concat(tokens);
        var bound = offer.InputTokenBound;
        var escrow = Amount.Parse(job.GetProperty("price").GetString()!);
        var priceIn = offer.PriceIn;
        var priceOut = offer.PriceOut;

        // Inflated input: metered honestly at the quoted prices (capped at the escrow), but for tokens never sent.
        foreach (var inflated in new long[] { bound + 1, bound * 100L })
        {
            var charge = new Amount(Math.Min(Pricing.Cost(inflated, tokens.Count, priceIn, priceOut)!.Value.Units, escrow.Units));
            var refused = (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, inflated, tokens.Count, charge, output)))
                .ExpectProblem(HttpStatusCode.UnprocessableEntity, "invalid_receipt");
            Assert.Contains("inputTokenBound", refused.Detail, StringComparison.Ordinal);
        }
        var row = await market.DbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id));
        Assert.Equal((JobStates.Running, null, null), (row.State, row.Receipt, row.TokensIn));

        // At the bound it is taken.
        var atBound = Pricing.Cost(bound, tokens.Count, priceIn, priceOut)!.Value;
        (await provider.PostResultAsync(id, output, provider.SignReceipt(offer, bound, tokens.Count, new Amount(Math.Min(atBound.Units, escrow.Units)), output)))
            .Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Attack07_ALockCommittedButNotSeenOnTheStreamFundsTheJobInsteadOfExpiringIt()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model, ProviderMode.Hold);
        using var client = await market.NewClientAsync(Funded);
        var now = market.Time.NowMs;
        var id = "job-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var amount = 1_000_000UL;
        var expiresAt = now + 3_600_000;
        // The lock is on the chain before the coordinator knows the job: the stream's event for it is gone by the time the job exists.
        var locked = await market.Node.SubmitAsync(client.Key, new EscrowLockBody(id, provider.Address, new Amount(amount), expiresAt));
        Assert.True(locked.Committed, $"{locked.Problem}");
        var marker = await client.SubmitCreatedAsync(model);
        await client.LockAsync(market.Node, marker);
        Assert.Equal(Id(marker), Id(await provider.NextJobAsync())); // the follower has handled everything up to the marker's lock
        var writer = market.Coordinator.Services.GetRequiredService<JobWriter>();
        Assert.True(await writer.TryInsert(new JobEntity
        {
            Id = id, Client = client.Address.ToString(), IdempotencyKey = "missed-lock", Provider = provider.Address.ToString(), Model = model,
            ModelDigest = FakeProvider.Digest, Input = JsonSerializer.Serialize(new { prompt = Prompt }), MaxTokens = 8, InputTokenBound = 100,
            PriceIn = 1, PriceOut = 1, Amount = (long)amount, ExpiresAt = expiresAt, PaymentDeadline = now - 1, State = JobStates.AwaitingPayment, CreatedAt = now - 2,
        }, CancellationToken.None)!);

        // Past its payment deadline, the sweeper looks the escrow up before expiring it: funded, and dispatched.
        Assert.Equal(id, Id(await provider.NextJobAsync()));
        Assert.Equal(JobStates.Dispatched, await StateAsync(id));
        Assert.Equal("locked", (await market.Node.Client.EscrowAsync(id))!.Status);
    }

    [Fact]
    public async Task Attack16_TheAdminTokenAndConnectionStringComeFromFilesAndNeverReachTheLogs()
    {
        using var dir = new TempDir();
        const string token = "admin-token-only-in-a-file";
        var tokenFile = dir.Sub("admin-token");
        await File.WriteAllTextAsync(tokenFile, token + "\n");
        // On PostgreSQL with a password (the test server trusts loopback, so any password does): it must not show anywhere.
        const string password = "password-only-in-a-file";
        var connectionString = market.Options.Database == DatabaseKind.Postgres ? market.Options.ConnectionString + $";Password={password}" : market.Options.ConnectionString;
        var connectionFile = dir.Sub("connection-string");
        await File.WriteAllTextAsync(connectionFile, connectionString + "\n");
        var logs = new LogLines();
        var options = new CoordinatorOptions
        {
            Port = 0, Database = market.Options.Database, ConnectionString = "not-this-one", ConnectionStringFile = connectionFile, Node = market.Options.Node,
            AdminTokenFile = tokenFile, Instance = "from-files",
        };
        await using (var coordinator = await CoordinatorServer.StartAsync(options, market.Time, logging: b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information)))
        {
            using var http = new HttpClient { BaseAddress = coordinator.Uri };
            using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/admin/jobs?limit=1", UriKind.Relative)))
            {
                request.Headers.Add("AITBC-Admin-Token", token);
                using var response = await http.SendAsync(request);
                (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK);
            }
            using (var response = await http.GetAsync(new Uri("/v1/admin/jobs", UriKind.Relative)))
            {
                (await Reply.FromAsync(response)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
            }
        }
        Assert.NotEmpty(logs.Lines);
        Assert.DoesNotContain(logs.Lines, l => l.Contains(token, StringComparison.Ordinal) || l.Contains(password, StringComparison.Ordinal));

        // Both the token and its file: refused at start.
        var both = new CoordinatorOptions { Port = 0, Database = market.Options.Database, ConnectionString = market.Options.ConnectionString, Node = market.Options.Node, AdminToken = "x", AdminTokenFile = tokenFile };
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await CoordinatorServer.StartAsync(both, market.Time, logging: _ => { }));
    }

    /// <summary>Every log line the coordinator writes, with its arguments.</summary>
    private sealed class LogLines : ILoggerProvider
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(LogLines owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner._lines)
                {
                    owner._lines.Add($"{formatter(state, exception)} {state} {exception}");
                }
            }
        }
    }
}

/// <summary>The chain follower's catch-up (attack 7, docs/security.md), with a coordinator of its own (its own SQLite file, the real clock) on the fixture's node.</summary>
public sealed class FollowerCatchUpTests(SqliteMarket market) : IClassFixture<SqliteMarket>
{
    [Fact]
    public async Task Attack07_LocksCommittedWhileTheCoordinatorWasAwayFundTheirJobsFromPagesOfBlocksNotOneCallPerJob()
    {
        const int jobs = 40;
        using var dir = new TempDir();
        CoordinatorOptions Options() => new()
        {
            Port = 0, Database = DatabaseKind.Sqlite, ConnectionString = dir.Sub("away.db"), Node = market.Options.Node, Instance = "away",
            AcceptTimeoutSeconds = 300, PaymentWindowSeconds = 600, JobTimeoutSeconds = 600,
        };
        var model = market.NewModel();
        using var client = await market.NewClientAsync(1_000 * Amount.UnitsPerAit);
        var submitted = new List<JsonElement>();
        await using (var away = await CoordinatorServer.StartAsync(Options(), logging: _ => { }))
        {
            var provider = new FakeProvider(TestKeys.Fresh(), away.Uri, market.Node.Client, ChainNode.ChainId, TimeProvider.System, [(model, 1, 1)], concurrency: jobs);
            await using (provider)
            {
                await provider.StartAsync(connect: false);
                using var atAway = new MarketAgent(client.Key, away.Uri, TimeProvider.System);
                for (var i = 0; i < jobs; i++)
                {
                    submitted.Add(await atAway.SubmitCreatedAsync(model, $"job {i} of those locked while the market was away"));
                }
            }
        }

        // Locked while no coordinator follows them: the stream's events are gone.
        var nonce = (await market.Node.Client.AccountAsync(client.Address)).NextNonce;
        var (accepted, refusals) = await market.Node.SubmitBatchAsync([.. submitted.Select((job, i) => client.LockTx(job, nonce + i))]);
        Assert.True(accepted == jobs, refusals);
        var last = submitted[^1].GetProperty("id").GetString()!;
        await MarketFixture.Eventually(async () => await market.Node.EscrowAsync(last) is not null, "the locks committed");

        await using var back = await CoordinatorServer.StartAsync(Options(), logging: _ => { });
        var follower = back.Services.GetRequiredService<ChainFollower>();
        await using (var scope = back.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            await MarketFixture.Eventually(async () => await db.Jobs.CountAsync(j => j.State == JobStates.Funded) == jobs, "every job funded", () => $"{follower.CatchUpCalls} calls");
        }
        Assert.True(follower.CatchUpCalls < jobs / 2, $"{follower.CatchUpCalls} node calls to catch up on {jobs} jobs");
        Assert.Equal("locked", (await market.Node.Client.EscrowAsync(last))!.Status);
    }
}
