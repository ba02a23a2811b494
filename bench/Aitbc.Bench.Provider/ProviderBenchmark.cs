using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Coordinator;
using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Client;
using Aitbc.Provider;
using Aitbc.Provider.Inference;
using Microsoft.Extensions.AI;

namespace Aitbc.Bench.Provider;

/// <summary>
/// One run: a node, a coordinator and the provider daemon (dev-echo) in this process on loopback; an
/// escrow locked per job before any clock runs; then a latency phase (one job at a time, each next to
/// a direct call of the same backend with the same request) and a throughput phase (many jobs in flight).
/// </summary>
internal sealed class ProviderBenchmark(BenchOptions options, TextWriter progress)
{
    private const string ChainId = "ait-bench-provider";
    private const int Clients = 16;
    private static readonly Amount Fee = new(1_000);
    private static readonly Amount PriceIn = new(100_000_000);
    private static readonly Amount PriceOut = new(300_000_000);

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"aitbc-bench-provider-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            return await RunInAsync(dir, ct);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task<BenchResult> RunInAsync(string dir, CancellationToken ct)
    {
        var prompt = string.Join(' ', Enumerable.Range(1, options.Words).Select(i => $"word{i}"));
        var maxTokens = options.Words;
        var quote = Pricing.Cost(Pricing.InputTokenBound([prompt]), maxTokens, PriceIn, PriceOut)!.Value;
        var total = (2 * options.WarmupJobs) + options.LatencyJobs + options.Jobs;
        using var validator = Ed25519Key.Generate();
        using var providerKey = Ed25519Key.Generate();
        var clients = Enumerable.Range(0, Clients).Select(_ => Ed25519Key.Generate()).ToArray();
        try
        {
            var perClient = new Amount((((ulong)total / Clients) + 1) * (quote.Units + Fee.Units));
            var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [new GenesisValidator(validator.Address, 1, "bench")],
                [.. clients.Select(c => new GenesisAllocation(c.Address, perClient))],
                new ChainParameters { MinFee = Fee, MinBlockIntervalMs = options.BlockMs, EmptyBlockIntervalMs = 3_600_000 });
            progress.WriteLine($"Starting a node (blocks at most every {options.BlockMs} ms), a coordinator and the provider daemon with {DevEchoBackend.ModelName}…");
            await using var node = await NodeServer.StartAsync(new NodeOptions { DataDir = Path.Combine(dir, "node"), RpcPort = 0, CommitWaitSeconds = 60, SignaturesPerSecondPerIp = 1_000_000, SignatureBurstPerIp = 1_000_000 },
                genesis, validator, null, logging: Quiet, ct: ct);
            await using var coordinator = await CoordinatorServer.StartAsync(new CoordinatorOptions
            {
                Port = 0,
                ConnectionString = Path.Combine(dir, "coordinator", "coordinator.db"),
                Node = node.RpcUri.ToString(),
            }, logging: Quiet, ct: ct);
            using var meter = new NodeCallMeter(node.RpcUri.Port);
            var providerOptions = new ProviderOptions
            {
                Port = 0,
                Coordinator = coordinator.Uri.ToString(),
                Node = node.RpcUri.ToString(),
                Backend = "dev-echo",
                PriceIn = (long)PriceIn.Units,
                PriceOut = (long)PriceOut.Units,
                Concurrency = options.Concurrency,
                GraceSeconds = 0,
                DataDir = Path.Combine(dir, "provider"),
                // One loopback client sends every job: the direct path's per-network limit is not what is measured.
                DirectRequestsPerIpPerSecond = 100_000,
                DirectBurstPerIp = 1_000_000,
            };
            await using var provider = await ProviderServer.StartAsync(providerOptions, providerKey, new DevEchoBackend(), logging: Quiet, ct: ct);
            using var nodeHttp = new HttpClient { BaseAddress = node.RpcUri, Timeout = TimeSpan.FromMinutes(2) };

            progress.WriteLine($"Locking {total} escrows (one per job, {quote} base units each) from {Clients} clients…");
            var jobIds = await LockAllAsync(nodeHttp, clients, providerKey.Address, quote, total, ct);
            var daemon = clients.Select(c => new HttpClient(new SigningHandler(c)) { BaseAddress = provider.Uri, Timeout = TimeSpan.FromMinutes(2) }).ToArray();
            try
            {
                var next = 0;
                Task<TimeSpan> Job(int i) => PostJobAsync(daemon[i % Clients], jobIds[i], prompt, maxTokens, ct);

                // Latency: one job at a time, each beside a direct call of the backend with the same request.
                progress.WriteLine($"Latency phase: {options.WarmupJobs} warm-up jobs, then {options.LatencyJobs} jobs one at a time…");
                using var direct = new DevEchoBackend();
                for (var w = 0; w < options.WarmupJobs; w++)
                {
                    await DirectAsync(direct, prompt, maxTokens, ct);
                    await Job(next++);
                }
                var floor = new double[options.LatencyJobs];
                var roundTrip = new double[options.LatencyJobs];
                var chain = new double[options.LatencyJobs];
                var backend = new double[options.LatencyJobs];
                var byKind = new double[NodeCallMeter.Kinds.Length];
                var callsByKind = new long[NodeCallMeter.Kinds.Length];
                using var health = new HttpClient { BaseAddress = provider.Uri };
                for (var i = 0; i < options.LatencyJobs; i++)
                {
                    backend[i] = (await DirectAsync(direct, prompt, maxTokens, ct)).TotalMilliseconds;
                    var started = Stopwatch.GetTimestamp();
                    using (var r = await health.GetAsync(new Uri("/health/live", UriKind.Relative), ct))
                    {
                        r.EnsureSuccessStatusCode();
                    }
                    floor[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    var (before, callsBefore) = meter.Read();
                    roundTrip[i] = (await Job(next++)).TotalMilliseconds;
                    var (after, callsAfter) = meter.Read();
                    for (var k = 0; k < byKind.Length; k++)
                    {
                        var ms = (after[k] - before[k]).TotalMilliseconds;
                        chain[i] += ms;
                        byKind[k] += ms;
                        callsByKind[k] += callsAfter[k] - callsBefore[k];
                    }
                }
                var processing = roundTrip.Select((t, i) => t - chain[i]).ToArray();
                var added = processing.Select((t, i) => t - backend[i]).ToArray();

                // Throughput: many jobs in flight, the daemon's slots as many as the jobs in flight.
                progress.WriteLine($"Throughput phase: {options.WarmupJobs} warm-up jobs, then {options.Jobs} jobs, {options.Concurrency} in flight…");
                await RunManyAsync(Enumerable.Range(next, options.WarmupJobs).ToArray(), Job, ct);
                next += options.WarmupJobs;
                var measured = Enumerable.Range(next, options.Jobs).ToArray();
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                var latencies = await RunManyAsync(measured, Job, ct);
                var elapsed = clock.Elapsed;
                var cpuPerJob = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / options.Jobs;

                // The money moved as the receipts say: every measured job's escrow is settled.
                var unsettled = 0;
                foreach (var id in measured.Where((_, k) => k % 97 == 0).Select(i => jobIds[i]))
                {
                    using var doc = JsonDocument.Parse(await nodeHttp.GetStringAsync(new Uri($"/v1/escrows/{id}", UriKind.Relative), ct));
                    unsettled += doc.RootElement.GetProperty("status").GetString() == "settled" ? 0 : 1;
                }
                return new BenchResult(
                    options, Environment.ProcessorCount, quote.Units,
                    JobsPerSecond: options.Jobs / elapsed.TotalSeconds,
                    LoadP50Ms: Percentile(latencies, 50), LoadP99Ms: Percentile(latencies, 99), CpuMsPerJob: cpuPerJob,
                    RoundTripP50Ms: Percentile(roundTrip, 50), RoundTripMeanMs: roundTrip.Average(),
                    NodeCallsPerJob: (double)callsByKind.Sum() / options.LatencyJobs,
                    NodeByKind: [.. NodeCallMeter.Kinds.Select((k, i) => new NodeCalls(k, (double)callsByKind[i] / options.LatencyJobs, byKind[i] / options.LatencyJobs)).Where(n => n.CallsPerJob > 0)],
                    ChainP50Ms: Percentile(chain, 50), ChainMeanMs: chain.Average(),
                    ProcessingP50Ms: Percentile(processing, 50), ProcessingMeanMs: processing.Average(), ProcessingP99Ms: Percentile(processing, 99),
                    BackendP50Ms: Percentile(backend, 50), BackendMeanMs: backend.Average(),
                    AddedP50Ms: Percentile(added, 50), AddedMeanMs: added.Average(), AddedP99Ms: Percentile(added, 99),
                    HttpFloorP50Ms: Percentile(floor, 50),
                    SampledUnsettled: unsettled);
            }
            finally
            {
                foreach (var h in daemon)
                {
                    h.Dispose();
                }
            }
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }

    private static void Quiet(Microsoft.Extensions.Logging.ILoggingBuilder builder)
    {
    }

    /// <summary>The backend called directly: the same chat request the daemon makes, read to its end.</summary>
    private static async Task<TimeSpan> DirectAsync(DevEchoBackend backend, string prompt, int maxTokens, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var text = new StringBuilder();
        await foreach (var u in backend.Chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, prompt)],
            new ChatOptions { ModelId = DevEchoBackend.ModelName, MaxOutputTokens = maxTokens }, ct))
        {
            text.Append(u.Text);
        }
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>One job through the daemon's API, signed by its escrow's client; its answer must carry the output and receipt.</summary>
    private static async Task<TimeSpan> PostJobAsync(HttpClient daemon, string jobId, string prompt, int maxTokens, CancellationToken ct)
    {
        var body = new JsonObject { ["jobId"] = jobId, ["model"] = DevEchoBackend.ModelName, ["prompt"] = prompt, ["maxTokens"] = maxTokens }.ToJsonString();
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var started = Stopwatch.GetTimestamp();
        using var response = await daemon.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var took = Stopwatch.GetElapsedTime(started);
        if (response.StatusCode != HttpStatusCode.OK || !text.Contains("\"receipt\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"job {jobId}: {(int)response.StatusCode} {text}");
        }
        return took;
    }

    private async Task<double[]> RunManyAsync(int[] jobs, Func<int, Task<TimeSpan>> run, CancellationToken ct)
    {
        var latencies = new double[jobs.Length];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Min(options.Concurrency, jobs.Length)).Select(async _ =>
        {
            int k;
            while ((k = Interlocked.Increment(ref next)) < jobs.Length && !ct.IsCancellationRequested)
            {
                latencies[k] = (await run(jobs[k])).TotalMilliseconds;
            }
        }));
        return latencies;
    }

    /// <summary>Signs every escrow.lock up front (job i by client i mod 16) and submits them in batches; waits for all to commit.</summary>
    private static async Task<string[]> LockAllAsync(HttpClient node, Ed25519Key[] clients, Address provider, Amount quote, int total, CancellationToken ct)
    {
        var expiresAt = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeMilliseconds();
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, total).Select(i => $"bench-{run}-{i}").ToArray();
        var txs = new Transaction[total];
        Parallel.For(0, total, i => txs[i] = Transaction.Sign(clients[i % clients.Length], ChainId, i / clients.Length, Fee,
            new EscrowLockBody(ids[i], provider, quote, expiresAt)));
        foreach (var chunk in txs.Chunk(5_000))
        {
            var json = new StringBuilder("[");
            for (var i = 0; i < chunk.Length; i++)
            {
                json.Append(i == 0 ? "" : ",").Append(Encoding.UTF8.GetString(chunk[i].ToJsonBytes()));
            }
            using var content = new StringContent(json.Append(']').ToString(), Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await node.PostAsync(new Uri("/v1/txs/batch", UriKind.Relative), content, ct);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            if (!response.IsSuccessStatusCode || doc.RootElement.GetProperty("refused").GetInt32() != 0)
            {
                throw new InvalidOperationException($"locking the escrows: {(int)response.StatusCode} {doc.RootElement.ToString()[..Math.Min(500, doc.RootElement.ToString().Length)]}");
            }
        }
        var client = new NodeClient(node);
        foreach (var last in txs.TakeLast(clients.Length))
        {
            var r = await client.WaitAsync(last.Id, ct);
            if (!r.Committed)
            {
                throw new InvalidOperationException($"an escrow.lock did not commit: {r.Status} {r.Problem}");
            }
        }
        return ids;
    }

    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>Calls to the node of one kind per job, and their mean time per job.</summary>
internal sealed record NodeCalls(string Kind, double CallsPerJob, double MeanMsPerJob);

/// <summary>The figures of one run.</summary>
internal sealed record BenchResult(
    BenchOptions Options, int Cores, ulong QuoteUnits,
    double JobsPerSecond, double LoadP50Ms, double LoadP99Ms, double CpuMsPerJob,
    double RoundTripP50Ms, double RoundTripMeanMs, double NodeCallsPerJob, IReadOnlyList<NodeCalls> NodeByKind, double ChainP50Ms, double ChainMeanMs,
    double ProcessingP50Ms, double ProcessingMeanMs, double ProcessingP99Ms, double BackendP50Ms, double BackendMeanMs,
    double AddedP50Ms, double AddedMeanMs, double AddedP99Ms, double HttpFloorP50Ms, int SampledUnsettled) : IBenchReport
{
    public const double GoalMs = 5;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToTable()
    {
        static string Ms(double v) => v.ToString(v < 1 ? "0.000" : "0.00", CultureInfo.InvariantCulture) + " ms";
        var o = Options;
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Provider daemon, {DevEchoBackend.ModelName}, {Cores} cores; prompt of {o.Words} words, maxTokens {o.Words}; blocks at most every {o.BlockMs} ms");
        sb.AppendLine();
        sb.AppendLine("| figure | value |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| throughput, {o.Jobs} paid jobs, {o.Concurrency} in flight (settle commit included) | **{JobsPerSecond:0} jobs/s** |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| job latency at that load, p50 / p99 | {Ms(LoadP50Ms)} / {Ms(LoadP99Ms)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| CPU per job at that load, whole process (node, coordinator, daemon, client) | {Ms(CpuMsPerJob)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| one job at a time ({o.LatencyJobs} jobs): round trip p50 / mean | {Ms(RoundTripP50Ms)} / {Ms(RoundTripMeanMs)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| … of which waiting on the node ({NodeCallsPerJob:0.0} calls per job), p50 / mean | {Ms(ChainP50Ms)} / {Ms(ChainMeanMs)} |");
        foreach (var n in NodeByKind)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| … … {n.Kind} ({n.CallsPerJob:0.0} per job), mean | {Ms(n.MeanMsPerJob)} |");
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"| … the rest: the daemon's processing, p50 / mean / p99 | {Ms(ProcessingP50Ms)} / {Ms(ProcessingMeanMs)} / {Ms(ProcessingP99Ms)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| the backend called directly, same request, p50 / mean | {Ms(BackendP50Ms)} / {Ms(BackendMeanMs)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| **added by the daemon per job** (processing − direct), p50 / mean / p99 | **{Ms(AddedP50Ms)}** / {Ms(AddedMeanMs)} / {Ms(AddedP99Ms)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| HTTP floor: GET /health/live on the daemon, p50 | {Ms(HttpFloorP50Ms)} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| sampled escrows not settled | {SampledUnsettled} |");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Goal: under {GoalMs} ms added per job, chain waits excluded: {(AddedMeanMs < GoalMs && AddedP50Ms < GoalMs ? "met" : "NOT met")} (mean {Ms(AddedMeanMs)}).");
        sb.AppendLine("Method: jobs go to the daemon's POST /v1/jobs (signed; escrow locked beforehand). Waiting on the node is the time");
        sb.AppendLine("HttpClient's own activities (System.Net.Http) record for requests to the node's port while that one job runs:");
        sb.AppendLine("the two escrow reads, the nonce read, the settle's submission and its wait for the block. The daemon's processing");
        sb.AppendLine("is the client's round trip minus that; the added latency is the processing minus a direct call of the same");
        sb.AppendLine("backend with the same request, made just before each job. It includes the HTTP hop to the daemon (see the floor),");
        sb.AppendLine("signature checks, receipt and transaction signing, and JSON. Throughput includes every wait on the chain.");
        return sb.ToString();
    }
}
