using System.Text.Json;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

namespace Aitbc.Coordinator.Tests.ScaleOut;

/// <summary>The scale-out test runs alone: it loads the machine, and the other classes' timeouts should not feel it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ScaleOutCollection
{
    public const string Name = "scale-out";
}

/// <summary>
/// Two coordinator processes (the real executable) on one PostgreSQL database, ten providers split between
/// them, a thousand jobs from fifty clients, every one funded on the chain: each job reaches its provider
/// exactly once, none is lost, and all complete.
/// </summary>
[Collection(ScaleOutCollection.Name)]
public sealed class ScaleOutTests(ITestOutputHelper output)
{
    private const int Clients = 50;
    private const int JobsPerClient = 20;
    private const int Jobs = Clients * JobsPerClient;
    private const int Providers = 10;

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];

    [Fact]
    public async Task Two_coordinator_processes_on_one_database_dispatch_each_of_1000_funded_jobs_exactly_once()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Phase(string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {what}");
        using var dir = new TempDir();
        await using var pg = await PostgresServer.StartAsync();
        var connectionString = await pg.CreateDatabaseAsync("scaleout", maxPool: 40);
        var clientKeys = Enumerable.Range(0, Clients).Select(i => TestKeys.Named($"scale-client-{i}")).ToArray();
        await using var node = await ChainNode.StartAsync(dir.Sub("node"), clientKeys.Select(k => k.Address), 1_000 * Amount.UnitsPerAit);

        string[] Flags(string instance) =>
        [
            "--database", "postgres", "--connection-string", connectionString, "--node", node.RpcUri.ToString(), "--instance", instance,
            "--accept-timeout", "300", "--rate-limit", "100000", "--rate-limit-per-ip", "1000000",
        ];
        // The first one creates the schema; the second finds it there.
        await using var a = await CoordinatorProcess.StartAsync(Flags("a"));
        await using var b = await CoordinatorProcess.StartAsync(Flags("b"));
        var instances = new[] { (Name: "a", Process: a), (Name: "b", Process: b) };
        Phase("PostgreSQL, node and two coordinator processes up");

        var providers = new List<FakeProvider>();
        try
        {
            for (var i = 0; i < Providers; i++)
            {
                var p = new FakeProvider(TestKeys.Named($"scale-provider-{i}"), instances[i % 2].Process.Uri, node.Client, ChainNode.ChainId, TimeProvider.System,
                    [($"scale/m{i}", 1 * Amount.UnitsPerAit, 2 * Amount.UnitsPerAit)], concurrency: 8) { WaitForSettle = false };
                providers.Add(p);
                await p.StartAsync(TimeSpan.FromSeconds(2));
            }

            Phase("providers registered and connected");

            // A thousand jobs, each client's twenty through alternating instances; model n % 10 is provider n % 10's.
            var jobs = new JsonElement[Jobs];
            await Parallel.ForEachAsync(Enumerable.Range(0, Clients), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
            {
                using var client = new MarketAgent(clientKeys[c], instances[c % 2].Process.Uri, TimeProvider.System);
                for (var k = 0; k < JobsPerClient; k++)
                {
                    var n = (c * JobsPerClient) + k;
                    var reply = await client.SubmitAsync($"scale/m{n % Providers}", $"job {n} says hello to the market", maxTokens: 4, idempotencyKey: $"scale-{n}");
                    jobs[n] = reply.Expect(System.Net.HttpStatusCode.Created);
                }
            });
            for (var n = 0; n < Jobs; n++)
            {
                Assert.Equal(providers[n % Providers].Address.ToString(), jobs[n].GetProperty("provider").GetString());
            }

            Phase("jobs submitted");

            // Every escrow locked on the chain at once: client c's jobs with its nonces 0..19, in one batch.
            var locks = Enumerable.Range(0, Jobs)
                .Select(n => Transaction.Sign(clientKeys[n / JobsPerClient], ChainNode.ChainId, n % JobsPerClient, new Amount(ChainNode.Fee), MarketAgent.LockBody(jobs[n])))
                .ToList();
            var (accepted, refusals) = await node.SubmitBatchAsync(locks);
            Assert.True(accepted == Jobs, $"{Jobs - accepted} locks refused: {refusals}");
            Phase("escrow locks submitted");

            await using var db = new PostgresCoordinatorDb(new DbContextOptionsBuilder<PostgresCoordinatorDb>().UseNpgsql(connectionString).Options);
            async Task<string> StatesAsync() => string.Join(", ", (await db.Jobs.AsNoTracking().GroupBy(j => j.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync())
                .Select(s => $"{s.Key}: {s.Count}")) + "; provider errors: " + string.Join("; ", providers.SelectMany(p => p.Errors).Take(5))
                + $"\ncoordinator a:\n{Tail(a.Output)}\ncoordinator b:\n{Tail(b.Output)}";
            var last = "";
            await MarketFixture.Eventually(async () =>
            {
                last = await StatesAsync();
                Assert.DoesNotContain(providers, p => !p.Errors.IsEmpty);
                return await db.Jobs.CountAsync(j => j.State == JobStates.Completed) == Jobs;
            }, "every job to complete", () => last, seconds: 150);
            Phase("all jobs completed");

            // Each job reached its provider exactly once: no duplicates, none lost, none elsewhere.
            var received = providers.SelectMany(p => p.Received.Select(r => (Provider: p, JobId: r.Key, Times: r.Value))).ToList();
            Assert.All(received, r => Assert.Equal(1, r.Times));
            Assert.Equal(Jobs, received.Count);
            var ids = jobs.Select(j => j.GetProperty("id").GetString()!).ToList();
            Assert.Equal(ids.Order(StringComparer.Ordinal), received.Select(r => r.JobId).Order(StringComparer.Ordinal));
            var byId = jobs.ToDictionary(j => j.GetProperty("id").GetString()!, j => j.GetProperty("provider").GetString());
            Assert.All(received, r => Assert.Equal(byId[r.JobId], r.Provider.Address.ToString()));

            // The database agrees: one dispatch each, by the instance its provider is connected to.
            var rows = await db.Jobs.AsNoTracking().Select(j => new { j.Id, j.Provider, j.DispatchCount, j.DispatchedBy, j.State }).ToListAsync();
            Assert.Equal(Jobs, rows.Count);
            Assert.All(rows, r => Assert.Equal(1, r.DispatchCount));
            var instanceOf = providers.Select((p, i) => (p.Address.ToString(), instances[i % 2].Name)).ToDictionary();
            Assert.All(rows, r => Assert.Equal(instanceOf[r.Provider], r.DispatchedBy));
            Assert.Equal(["a", "b"], rows.Select(r => r.DispatchedBy!).Distinct().Order(StringComparer.Ordinal).ToArray());

            // And the money moved: every escrow settled on the chain for its receipt, which the market recorded.
            await MarketFixture.Eventually(async () => await db.Jobs.CountAsync(j => j.ChargedAmount != null) == Jobs, "every settlement to be seen",
                () => "", seconds: 90);
            Assert.Equal(Jobs, providers.Sum(p => p.Completed.Count));
            Phase("all escrows settled");
        }
        finally
        {
            foreach (var p in providers)
            {
                await p.DisposeAsync();
            }
        }
    }
}
