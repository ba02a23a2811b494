using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// The market as one test class sees it: a real node on loopback, and a real coordinator
/// (<see cref="CoordinatorServer"/>, port 0) on a real database, following that node. The coordinator's
/// clock is a <see cref="MarketTime"/> that tests move forward to pass deadlines. Subclasses choose the database.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "xUnit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public abstract class MarketFixture : IAsyncLifetime
{
    public const string AdminToken = "admin-token-for-the-tests";
    private readonly TempDir _dir = new();
    private ChainNode? _node;
    private CoordinatorServer? _coordinator;
    private HttpClient? _http;
    private int _models;

    internal MarketTime Time { get; } = new();

    public ChainNode Node => _node ?? throw new InvalidOperationException("not started");

    public CoordinatorServer Coordinator => _coordinator ?? throw new InvalidOperationException("not started");

    /// <summary>Unsigned, as anyone who follows a job is.</summary>
    public HttpClient Http => _http ?? throw new InvalidOperationException("not started");

    public CoordinatorOptions Options { get; private set; } = new();

    protected TempDir Dir => _dir;

    /// <summary>The database for the coordinator, and its connection string.</summary>
    protected abstract Task<(DatabaseKind Database, string ConnectionString)> OpenDatabaseAsync();

    protected virtual Task CloseDatabaseAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _node = await ChainNode.StartAsync(_dir.Sub("node"));
        var (database, connectionString) = await OpenDatabaseAsync();
        Options = new CoordinatorOptions
        {
            Port = 0,
            Database = database,
            ConnectionString = connectionString,
            Node = _node.RpcUri.ToString(),
            AdminToken = AdminToken,
            Instance = "test",
            HeartbeatTimeoutSeconds = 15,
            AcceptTimeoutSeconds = 30,
            PaymentWindowSeconds = 60,
            JobTimeoutSeconds = 600,
            // Every test's providers register from loopback: one network.
            NewProvidersPerNetworkPerHour = 1_000_000,
        };
        _coordinator = await CoordinatorServer.StartAsync(Options, Time, logging: _ => { });
        _http = new HttpClient { BaseAddress = _coordinator.Uri, Timeout = TimeSpan.FromSeconds(60) };
        await Eventually(async () => (await GetAsync("/health/ready")).Status == HttpStatusCode.OK, "the coordinator follows the chain");
    }

    /// <summary>Another coordinator on the same database, node and clock, with the same settings unless <paramref name="configure"/> changes them; the test stops it.</summary>
    public async Task<CoordinatorServer> StartCoordinatorAsync(Action<CoordinatorOptions> configure)
    {
        var options = new CoordinatorOptions
        {
            Port = 0,
            Database = Options.Database,
            ConnectionString = Options.ConnectionString,
            Node = Options.Node,
            AdminToken = AdminToken,
            Instance = "second",
            HeartbeatTimeoutSeconds = Options.HeartbeatTimeoutSeconds,
            AcceptTimeoutSeconds = Options.AcceptTimeoutSeconds,
            PaymentWindowSeconds = Options.PaymentWindowSeconds,
            JobTimeoutSeconds = Options.JobTimeoutSeconds,
            NewProvidersPerNetworkPerHour = Options.NewProvidersPerNetworkPerHour,
        };
        configure(options);
        return await CoordinatorServer.StartAsync(options, Time, logging: _ => { });
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_coordinator is not null)
        {
            await _coordinator.DisposeAsync();
        }
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        await CloseDatabaseAsync();
        _dir.Dispose();
    }

    /// <summary>A model name no other test uses.</summary>
    public string NewModel() => $"dev-echo/test-{Interlocked.Increment(ref _models)}";

    /// <summary>A client with a fresh key, given <paramref name="fund"/> base units by the faucet.</summary>
    public async Task<MarketAgent> NewClientAsync(ulong fund = 100 * Amount.UnitsPerAit)
    {
        var client = new MarketAgent(TestKeys.Fresh(), Coordinator.Uri, Time);
        if (fund > 0)
        {
            await Node.FundAsync(client.Address, fund);
        }
        return client;
    }

    /// <summary>A provider with a fresh key serving <paramref name="model"/>, registered, heartbeating, and (unless told) connected.</summary>
    public async Task<FakeProvider> NewProviderAsync(string model, ProviderMode mode = ProviderMode.Complete, ulong priceIn = 3 * Amount.UnitsPerAit,
        ulong priceOut = 7 * Amount.UnitsPerAit, bool connect = true, int concurrency = 4)
    {
        var provider = new FakeProvider(TestKeys.Fresh(), Coordinator.Uri, Node.Client, ChainNode.ChainId, Time, [(model, priceIn, priceOut)], concurrency) { Mode = mode };
        await provider.StartAsync(connect: connect);
        return provider;
    }

    public async Task<Reply> GetAsync(string path, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        configure?.Invoke(request);
        using var response = await Http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    public async Task<JsonElement> JobAsync(string id) => (await GetAsync($"/v1/jobs/{id}")).Expect(HttpStatusCode.OK);

    /// <summary>A job's id, as the coordinator's answers carry it.</summary>
    public static string Id(JsonElement job) => job.GetProperty("id").GetString()!;

    public static string Id(JobOffer offer) => offer.Id;

    /// <summary>Submits, locks the quoted escrow, and waits for the job to reach <paramref name="provider"/>; answers the job and the offer it got.</summary>
    public async Task<(JsonElement Job, JobOffer Offer)> DispatchedAsync(MarketAgent client, FakeProvider provider, string model, string prompt)
    {
        var job = await client.SubmitCreatedAsync(model, prompt, maxTokens: 8);
        Assert.Equal(provider.Address.ToString(), job.GetProperty("provider").GetString());
        await client.LockAsync(Node, job);
        var offer = await provider.NextJobAsync();
        Assert.Equal(Id(job), Id(offer));
        await WaitForStateAsync(Id(job), JobStates.Dispatched);
        return (job, offer);
    }

    /// <summary>As <see cref="DispatchedAsync"/>, then accepted by the provider: the job is running.</summary>
    public async Task<(JsonElement Job, JobOffer Offer)> RunningAsync(MarketAgent client, FakeProvider provider, string model, string prompt)
    {
        var (job, offer) = await DispatchedAsync(client, provider, model, prompt);
        await provider.AcceptAsync(Id(job));
        await WaitForStateAsync(Id(job), JobStates.Running);
        return (job, offer);
    }

    /// <summary>Waits until the job is in <paramref name="state"/> (and fails at once if it lands in another final state).</summary>
    public async Task<JsonElement> WaitForStateAsync(string id, string state, FakeProvider? provider = null)
    {
        JsonElement job = default;
        await Eventually(async () =>
        {
            job = await JobAsync(id);
            var now = job.GetProperty("state").GetString()!;
            Assert.False(JobStates.IsFinal(now) && now != state, $"job {id} ended {now} ({job}), not {state}");
            return now == state;
        }, $"job {id} to be {state}", () => job + (provider is null ? "" : $"; the provider's errors: {string.Join("; ", provider.Errors)}"));
        return job;
    }

    public async Task<T> DbAsync<T>(Func<CoordinatorDb, Task<T>> query)
    {
        await using var scope = Coordinator.Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<CoordinatorDb>());
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails after 30 s (a bound for a stuck system, not a timing claim).</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string what, Func<string>? state = null, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"waited in vain for {what}{(state is null ? "" : ": " + state())}");
            }
            await Task.Delay(50);
        }
    }
}

/// <summary>The market on SQLite: one file in a temp folder.</summary>
public sealed class SqliteMarket : MarketFixture
{
    protected override Task<(DatabaseKind Database, string ConnectionString)> OpenDatabaseAsync() =>
        Task.FromResult((DatabaseKind.Sqlite, Dir.Sub("coordinator.db")));

    protected override Task CloseDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}

/// <summary>The market on a real PostgreSQL server that this fixture starts (and kills), with a database of its own.</summary>
public sealed class PostgresMarket : MarketFixture
{
    private PostgresServer? _server;

    protected override async Task<(DatabaseKind Database, string ConnectionString)> OpenDatabaseAsync()
    {
        _server = await PostgresServer.StartAsync();
        return (DatabaseKind.Postgres, await _server.CreateDatabaseAsync("lifecycle"));
    }

    protected override async Task CloseDatabaseAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
