using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Bench.Coordinator;

/// <summary>What one database's dispatch phase measured.</summary>
internal sealed record DispatchFigures(
    int Jobs, int Missing, double LockIntervalMs, double EscrowsPerBlock, double P50Ms, double P90Ms, double P99Ms, double MaxMs,
    double FromBlockP50Ms, double FromBlockP99Ms);

/// <summary>
/// Jobs submitted through the coordinator (awaiting payment), then their escrows locked on the chain one every
/// <see cref="BenchOptions.LockIntervalMs"/> ms, as clients would pay for them. Each job is timed from its escrow event
/// reaching a subscriber of the node's stream (<see cref="ChainWatch"/>, the same stream the coordinator's follower reads)
/// to its provider holding the job message: the follower's read of the event, the job's update to funded, the claim
/// (funded → dispatched), the read of the job and the offer's send over the provider's WebSocket.
/// </summary>
internal static class DispatchProbe
{
    private static readonly Amount Fee = new(1_000);

    public static async Task<DispatchFigures> RunAsync(Uri coordinator, NodeClient node, string chainId, Ed25519Key[] clients, string[] models, IReadOnlyList<BenchProvider> providers,
        BenchOptions o, TextWriter progress, CancellationToken ct)
    {
        var total = o.DispatchWarmup + o.DispatchJobs;
        progress.WriteLine($"  dispatch: {total} jobs ({o.DispatchWarmup} warm-up), escrows locked one every {o.LockIntervalMs} ms…");
        await using var watch = await ChainWatch.StartAsync(node.Http.BaseAddress!, ct);
        var http = clients.Select(k => new HttpClient(new SigningHandler(k)) { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) }).ToArray();
        var jobs = new (string Id, EscrowLockBody Lock)[total];
        try
        {
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, clients.Length).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < total)
                {
                    jobs[i] = await SubmitAsync(http[i % clients.Length], models[i % models.Length], i, ct);
                }
            }, ct)));
        }
        finally
        {
            foreach (var h in http)
            {
                h.Dispose();
            }
        }

        // Signed before the clock runs: job i by its client i mod clients, that client's nonces in order.
        var nonces = new long[clients.Length];
        for (var c = 0; c < clients.Length; c++)
        {
            nonces[c] = (await node.AccountAsync(clients[c].Address, ct)).NextNonce;
        }
        var locks = jobs.Select((j, i) => Transaction.Sign(clients[i % clients.Length], chainId, nonces[i % clients.Length] + (i / clients.Length), Fee, j.Lock)).ToArray();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromMilliseconds(i * (double)o.LockIntervalMs) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, ct);
            }
            var submitted = await node.SubmitAsync(locks[i], waitForCommit: false, ct);
            if (!submitted.Accepted)
            {
                throw new InvalidOperationException($"the node refused escrow.lock for {jobs[i].Id}: {submitted.Problem}");
            }
        }

        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 60);
        bool Arrived(string id) => providers.Any(p => p.Received.ContainsKey(id));
        while (!jobs.All(j => Arrived(j.Id) && watch.Locked.ContainsKey(j.Id)) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50, ct);
        }

        var fromEscrow = new List<double>();
        var fromBlock = new List<double>();
        var missing = 0;
        foreach (var (id, _) in jobs.Skip(o.DispatchWarmup))
        {
            var received = providers.Select(p => p.Received.TryGetValue(id, out var t) ? t : (long?)null).FirstOrDefault(t => t is not null);
            if (received is null || !watch.Locked.TryGetValue(id, out var seen))
            {
                missing++;
                continue;
            }
            fromEscrow.Add(Stopwatch.GetElapsedTime(seen.At, received.Value).TotalMilliseconds);
            if (watch.Blocks.TryGetValue(seen.Height, out var announced))
            {
                fromBlock.Add(Stopwatch.GetElapsedTime(announced, received.Value).TotalMilliseconds);
            }
        }
        var measuredHeights = jobs.Skip(o.DispatchWarmup).Select(j => watch.Locked.TryGetValue(j.Id, out var s) ? s.Height : -1).Where(h => h >= 0).ToList();
        var perBlock = measuredHeights.Count == 0 ? 0 : measuredHeights.Count / (double)measuredHeights.Distinct().Count();
        var e = fromEscrow.Order().ToArray();
        var b = fromBlock.Order().ToArray();
        if (e.Length == 0)
        {
            throw new InvalidOperationException("no job reached its provider after its escrow was locked");
        }
        return new DispatchFigures(e.Length, missing, o.LockIntervalMs, perBlock, Stats.Percentile(e, 50), Stats.Percentile(e, 90), Stats.Percentile(e, 99), e[^1],
            Stats.Percentile(b, 50), Stats.Percentile(b, 99));
    }

    /// <summary>Submits one job (signed by the client) and answers its id and the escrow.lock the coordinator quoted.</summary>
    private static async Task<(string Id, EscrowLockBody Lock)> SubmitAsync(HttpClient client, string model, int i, CancellationToken ct)
    {
        var job = await new MarketClient(client).SubmitAsync(SubmitJobRequest.OfPrompt(model, $"dispatch probe {i}", 16, new Amount(1_000_000_000_000)), ct);
        return (job.Id, job.Escrow.Body.ToTxBody());
    }
}
