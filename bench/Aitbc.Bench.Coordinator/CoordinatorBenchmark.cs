using System.Diagnostics;
using System.Net;
using Aitbc.Coordinator;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Tests.Infrastructure;
using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Bench.Coordinator;

/// <summary>
/// One run: a node in this process on loopback, then per database a coordinator (on a SQLite file, or on a PostgreSQL
/// server started for the run) with providers connected, its submission phase and its dispatch phase.
/// </summary>
internal sealed class CoordinatorBenchmark(BenchOptions options, TextWriter progress)
{
    private const string ChainId = "ait-bench-coordinator";
    private const int PayingClients = 8;
    private static readonly Amount PriceIn = new(100_000_000);
    private static readonly Amount PriceOut = new(300_000_000);

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"aitbc-bench-coordinator-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            return await RunInAsync(dir, ct);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private async Task<BenchResult> RunInAsync(string dir, CancellationToken ct)
    {
        var loadAtStart = Stats.LoadAverage();
        using var validator = Ed25519Key.Generate();
        var payers = Enumerable.Range(0, PayingClients).Select(_ => Ed25519Key.Generate()).ToArray();
        var submitters = Enumerable.Range(0, options.Connections).Select(_ => Ed25519Key.Generate()).ToArray();
        try
        {
            var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [new GenesisValidator(validator.Address, 1, "bench")],
                [.. payers.Select(c => new GenesisAllocation(c.Address, Amount.FromAit(1_000_000)))],
                new ChainParameters { MinFee = new Amount(1_000), MinBlockIntervalMs = options.BlockMs, EmptyBlockIntervalMs = 3_600_000 });
            progress.WriteLine($"Starting a node (blocks at most every {options.BlockMs} ms); load average {loadAtStart}…");
            await using var node = await NodeServer.StartAsync(new NodeOptions { DataDir = Path.Combine(dir, "node"), RpcPort = 0, CommitWaitSeconds = 60, SignaturesPerSecondPerIp = 1_000_000, SignatureBurstPerIp = 1_000_000 },
                genesis, validator, null, logging: Quiet, ct: ct);
            using var nodeHttp = new HttpClient { BaseAddress = node.RpcUri, Timeout = TimeSpan.FromMinutes(1) };
            var nodeClient = new NodeClient(nodeHttp);
            var results = new List<DatabaseFigures>();
            foreach (var database in options.Databases)
            {
                results.Add(await RunDatabaseAsync(database, dir, node.RpcUri, nodeClient, submitters, payers, ct));
            }
            // The ceiling, measured in the same run with the same load, answering as many bytes as the coordinator did.
            var floor = await KestrelFloor.RunAsync(submitters, Models(), results.Max(r => r.Submit.AnswerBytes), options, progress, ct);
            progress.WriteLine($"  {floor.PerSecond:0} requests/s, p50 {floor.P50Ms:0.0} ms, p99 {floor.P99Ms:0.0} ms; load average {Stats.LoadAverage()}");
            return new BenchResult(options, Environment.ProcessorCount, loadAtStart, Stats.LoadAverage(), results, floor);
        }
        finally
        {
            foreach (var k in payers.Concat(submitters))
            {
                k.Dispose();
            }
        }
    }

    private async Task<DatabaseFigures> RunDatabaseAsync(DatabaseKind database, string dir, Uri nodeUri, NodeClient node, Ed25519Key[] submitters, Ed25519Key[] payers,
        CancellationToken ct)
    {
        PostgresServer? postgres = null;
        try
        {
            string connectionString;
            if (database == DatabaseKind.Postgres)
            {
                progress.WriteLine("PostgreSQL: starting a server (initdb, postgres on loopback)…");
                postgres = await PostgresServer.StartAsync();
                connectionString = await postgres.CreateDatabaseAsync("bench", maxPool: Math.Max(100, options.Connections + 32));
            }
            else
            {
                progress.WriteLine("SQLite: one file in the run's temporary folder…");
                connectionString = Path.Combine(dir, "coordinator", "coordinator.db");
            }
            await using var coordinator = await CoordinatorServer.StartAsync(new CoordinatorOptions
            {
                Port = 0,
                Database = database,
                ConnectionString = connectionString,
                Node = nodeUri.ToString(),
                Instance = "bench",
                // High enough that no client's bucket (nor the one of loopback, where every client is) binds; the bench
                // measures the coordinator, not its limiters. The submission queue keeps its default: 64 connections
                // in a closed loop never fill it.
                RateLimitPerSecond = 1_000_000,
                RateLimitPerIpPerSecond = 10_000_000,
                NewProvidersPerNetworkPerHour = 1_000_000, // every bench provider registers from loopback
                PaymentWindowSeconds = 3600,
                JobTimeoutSeconds = 3600,
                HeartbeatTimeoutSeconds = 60,
            }, logging: Quiet, ct: ct);
            await WaitReadyAsync(coordinator.Uri, ct);

            var models = Models();
            var providers = new List<BenchProvider>();
            try
            {
                for (var p = 0; p < options.Providers; p++)
                {
                    var provider = new BenchProvider(Ed25519Key.Generate(), coordinator.Uri, models[p % models.Length], PriceIn, PriceOut, concurrency: 1024);
                    providers.Add(provider);
                    await provider.StartAsync(ct);
                }
                var connections = coordinator.Services.GetRequiredService<ProviderConnections>();
                var until = Stopwatch.StartNew();
                while (connections.Count < options.Providers)
                {
                    if (until.Elapsed > TimeSpan.FromSeconds(30))
                    {
                        throw new TimeoutException($"only {connections.Count} of {options.Providers} providers connected");
                    }
                    await Task.Delay(20, ct);
                }
                var loadBefore = Stats.LoadAverage();
                var submit = await SubmitLoad.RunAsync(coordinator.Uri, submitters, models, 16, options, progress, ct);
                progress.WriteLine($"  {submit.PerSecond:0} submissions/s, p50 {submit.P50Ms:0.0} ms, p99 {submit.P99Ms:0.0} ms; load average {Stats.LoadAverage()}");
                var dispatch = await DispatchProbe.RunAsync(coordinator.Uri, node, ChainId, payers, models, providers, options, progress, ct);
                progress.WriteLine($"  dispatch p50 {dispatch.P50Ms:0.00} ms, p99 {dispatch.P99Ms:0.00} ms; load average {Stats.LoadAverage()}");
                return new DatabaseFigures(database, loadBefore, Stats.LoadAverage(), submit, dispatch);
            }
            finally
            {
                foreach (var p in providers)
                {
                    await p.DisposeAsync();
                }
            }
        }
        finally
        {
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }
        }
    }

    private string[] Models() => [.. Enumerable.Range(0, options.Models).Select(m => $"bench/model-{m}")];

    /// <summary>Ready means the database answers and the follower holds the node's escrow stream.</summary>
    private static async Task WaitReadyAsync(Uri coordinator, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = coordinator };
        var until = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }
            if (until.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException("the coordinator did not become ready (database and chain) in 30 s");
            }
            await Task.Delay(50, ct);
        }
    }

    private static void Quiet(Microsoft.Extensions.Logging.ILoggingBuilder builder)
    {
    }
}
