using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace Aitbc.Bench.Node;

/// <summary>
/// One benchmark run: set up a funded chain in a temporary directory, pre-sign, measure Ed25519,
/// start the node, load it, measure, and always stop the node and remove the directory.
/// </summary>
internal sealed class NodeBenchmark(BenchOptions options, TextWriter log)
{
    private static readonly TimeSpan MemoryRunLimit = TimeSpan.FromMinutes(30);
    private long _peak;

    public async Task<BenchResult> RunAsync(CancellationToken ct)
    {
        var dll = options.NodeDll ?? NodeProcess.LocateDll();
        var dir = Directory.CreateTempSubdirectory("aitbc-bench-");
        try
        {
            return await RunInAsync(dll, dir.FullName, ct);
        }
        finally
        {
            if (options.KeepData)
            {
                log.WriteLine($"Kept the data directory {dir.FullName}");
            }
            else
            {
                dir.Delete(recursive: true);
            }
        }
    }

    private async Task<BenchResult> RunInAsync(string dll, string dir, CancellationToken ct)
    {
        log.WriteLine($"Generating {options.Senders:N0} sender keys and the genesis in {dir}");
        using var work = Workload.Create(options.Senders);
        var (genesis, validatorKey) = work.WriteGenesis(dir);

        var firstBatch = options.MemoryRun ? options.Total : (long)options.MaxRate * (options.WarmupSeconds + options.DurationSeconds);
        var toSign = (int)Math.Min(firstBatch, int.MaxValue - 1);
        log.WriteLine($"Pre-signing {toSign:N0} transfers on {Environment.ProcessorCount} cores");
        var signing = Stopwatch.StartNew();
        work.SignUpTo(toSign);
        var signingSeconds = signing.Elapsed.TotalSeconds;
        log.WriteLine($"  {signingSeconds:F1} s ({toSign / signingSeconds:N0} signatures/s with their JSON)");

        log.WriteLine($"Measuring Ed25519 verifications for {options.VerifySeconds} s on all cores (node not started yet)");
        var ed = Ed25519Probe.Measure(work.SampleMessages(4096), TimeSpan.FromSeconds(Math.Max(0.3, options.VerifySeconds)));
        log.WriteLine($"  {ed.PerSecond:N0} verifications/s on {ed.Cores} cores ({ed.PerSecondOneCore:N0}/s on one)");

        log.WriteLine($"Starting {dll}");
        string Flag(long v) => v.ToString(CultureInfo.InvariantCulture);
        // All load comes from this one loopback client, so the node's per-network limits are raised for it.
        string[] limits =
        [
            "--signatures-per-second-per-ip", Flag(100_000_000), "--signature-burst-per-ip", Flag(1_000_000_000),
            "--ws-connections-per-ip", Flag(options.IdleSubscribers + 16), "--mempool-escrow-reserve", Flag(options.EscrowReserve),
        ];
        await using var node = await NodeProcess.StartAsync(dll, Path.Combine(dir, "node"), genesis, validatorKey, options.MempoolCapacity, limits,
            TimeSpan.FromSeconds(120), ct);
        log.WriteLine($"  node pid {node.Pid} at {node.RpcUri}");
        await using var idle = options.IdleSubscribers > 0 ? await OpenIdleAsync(node.RpcUri, ct) : null;
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = options.Connections + 2,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var http = new HttpClient(handler) { BaseAddress = node.RpcUri, Timeout = TimeSpan.FromMinutes(5) };
        var ledger = new Ledger(toSign);
        await using var watcher = new CommitWatcher(http, work, ledger);
        await watcher.StartAsync(node.RpcUri, ct);
        var submitter = new Submitter(http, work, ledger, options);

        PhaseResult? max = null;
        PhaseResult? half = null;
        MemoryRunResult? memory = null;
        if (options.MemoryRun)
        {
            memory = await MemoryRunAsync(work, node, ledger, watcher, submitter, ct);
        }
        else
        {
            max = await PhaseAsync("phase 1: maximum load", null, toSign, node, http, ledger, watcher, submitter, options.DurationSeconds, ct);
            if (options.HalfSeconds > 0 && max.CommittedPerSecond > 0)
            {
                var rate = max.CommittedPerSecond / 2;
                var need = submitter.Cursor + (int)Math.Ceiling(rate * (options.WarmupSeconds + options.HalfSeconds) * 1.05) + options.Batch;
                if (need > work.Signed)
                {
                    log.WriteLine($"Pre-signing {need - work.Signed:N0} more transfers for phase 2 (the clock is not running)");
                    ledger.Grow(need);
                    work.SignUpTo(need);
                }
                half = await PhaseAsync("phase 2: half the measured rate", rate, work.Signed, node, http, ledger, watcher, submitter, options.HalfSeconds, ct);
            }
        }
        Sample(node);
        var rssEnd = node.ProcStatusBytes("VmRSS");
        var result = new BenchResult(
            Machine(), options.Single ? "single" : "batch", options.Senders, options.Batch, options.Connections, options.Window,
            signingSeconds, work.Signed, ed, max, half, memory, _peak, rssEnd,
            (max?.CommittedPerSecond ?? memory?.CommittedPerSecond) / ed.PerSecond,
            ledger.Refusals.Snapshot().ToDictionary(kv => kv.Key, kv => kv.Value.Count, StringComparer.Ordinal),
            watcher.ForeignTxs, options.IdleSubscribers, idle is null ? 0 : idle.Count - idle.ClosedByNode, Goals(max, half, memory));
        foreach (var (code, (count, example)) in ledger.Refusals.Snapshot())
        {
            log.WriteLine($"Refused {count:N0} × {code}, e.g. {example}");
        }
        log.WriteLine("Stopping the node");
        return result;
    }

    private async Task<IdleSubscribers> OpenIdleAsync(Uri rpc, CancellationToken ct)
    {
        log.WriteLine($"Opening {options.IdleSubscribers:N0} idle WebSocket subscribers");
        var started = Stopwatch.StartNew();
        var idle = await IdleSubscribers.OpenAsync(rpc, options.IdleSubscribers, ct);
        log.WriteLine($"  {idle.Count:N0} open, each with 2 subscriptions, in {started.Elapsed.TotalSeconds:F1} s");
        return idle;
    }

    private void Sample(NodeProcess node)
    {
        if (!node.HasExited)
        {
            _peak = Math.Max(_peak, node.ProcStatusBytes("VmHWM"));
        }
    }

    private async Task<PhaseResult> PhaseAsync(string name, double? rate, int limit, NodeProcess node, HttpClient http, Ledger ledger,
        CommitWatcher watcher, Submitter submitter, int seconds, CancellationToken ct)
    {
        log.WriteLine(rate is null
            ? $"{name}: {options.WarmupSeconds} s warm-up, then {seconds} s measured"
            : $"{name}: {rate:N0} tx/s, {options.WarmupSeconds} s warm-up, then {seconds} s measured");
        var freq = Stopwatch.Frequency;
        var firstIndex = submitter.Cursor;
        var atStart = await CpuSnapshot.TakeAsync(node, http, ct);
        var start = Stopwatch.GetTimestamp();
        var windowStart = start + (options.WarmupSeconds * freq);
        var end = windowStart + (seconds * freq);
        var run = rate is { } r ? submitter.RunPacedAsync(r, limit, end, ct) : submitter.RunMaxAsync(limit, end, ct);

        CpuSnapshot? atWindow = null;
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(1000, ct));
            if (atWindow is null && Stopwatch.GetTimestamp() >= windowStart)
            {
                atWindow = await CpuSnapshot.TakeAsync(node, http, ct);
            }
            Check(node, watcher);
            Sample(node);
            var t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if ((int)t % 5 == 0 || run.IsCompleted)
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  t={t,5:F0}s committed {ledger.CommittedCount,10:N0}  pending {ledger.Pending,8:N0}  node RSS {BenchResult.Mb(node.ProcStatusBytes("VmRSS"))}"));
            }
        }
        await run;
        var atEnd = await CpuSnapshot.TakeAsync(node, http, ct);
        var loaded = CpuSnapshot.Percent(atWindow ?? atStart, atEnd);
        var load = CpuSnapshot.MachineLoad();
        var lastIndex = submitter.Cursor;

        log.WriteLine($"  submission stopped; waiting up to {options.DrainSeconds} s for {ledger.Pending:N0} pending transfers to commit");
        var drainUntil = Stopwatch.GetTimestamp() + (options.DrainSeconds * freq);
        while (ledger.Pending > 0 && Stopwatch.GetTimestamp() < drainUntil)
        {
            await Task.Delay(100, ct);
            Check(node, watcher);
        }
        Sample(node);
        // From an empty pool to an empty pool: every transfer admitted in this span was also committed in it.
        var atDrained = await CpuSnapshot.TakeAsync(node, http, ct);
        var committedInPhase = Math.Max(1, atDrained.NodeCommitted - atStart.NodeCommitted);
        var nodeMicrosPerTx = (atDrained.Node - atStart.Node).TotalMicroseconds / committedInPhase;
        var benchMicrosPerTx = (atDrained.Bench - atStart.Bench).TotalMicroseconds / committedInPhase;
        var loopMicrosPerTx = (atDrained.LoopSeconds - atStart.LoopSeconds) * 1e6 / committedInPhase;

        var blocks = watcher.Blocks.Where(b => b.Seen >= windowStart && b.Seen < end).ToList();
        var committed = blocks.Sum(b => (long)b.TxCount);
        var slice = Math.Min(5.0, seconds);
        var slices = Enumerable.Range(0, Math.Max(1, (int)(seconds / slice)))
            .Select(k => blocks.Where(b => b.Seen >= windowStart + (long)(k * slice * freq) && b.Seen < windowStart + (long)((k + 1) * slice * freq))
                .Sum(b => (long)b.TxCount) / slice)
            .ToList();
        var (latencies, missing) = ledger.Latencies(firstIndex, lastIndex, windowStart, end);
        var submitted = 0L;
        for (var i = firstIndex; i < lastIndex; i++)
        {
            var s = ledger.SubmittedAt(i);
            submitted += s >= windowStart && s < end ? 1 : 0;
        }
        var result = new PhaseResult(name, rate, seconds, committed, committed / (double)seconds, slice, slices.Min(), slices.Max(),
            submitted, latencies.Length, missing, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
            latencies.Length > 0 ? latencies[^1] : double.NaN, blocks.Count, blocks.Count > 0 ? blocks.Average(b => b.TxCount) : 0,
            loaded.Node, loaded.Bench, loaded.Others, loaded.Loop, nodeMicrosPerTx, benchMicrosPerTx, loopMicrosPerTx, load,
            rate is null && submitter.RanOut, submitter.MaxLagSeconds);
        log.WriteLine($"  {result.CommittedPerSecond:N0} committed tx/s; p50 {BenchResult.Ms(result.P50Seconds)}, p99 {BenchResult.Ms(result.P99Seconds)}");
        return result;
    }

    private async Task<MemoryRunResult> MemoryRunAsync(Workload work, NodeProcess node, Ledger ledger, CommitWatcher watcher, Submitter submitter,
        CancellationToken ct)
    {
        var total = (int)options.Total;
        log.WriteLine($"Memory run: {total:N0} transfers among {options.Senders:N0} accounts, as fast as the node takes them (at most {MemoryRunLimit.TotalMinutes} min)");
        var start = Stopwatch.GetTimestamp();
        var run = submitter.RunMaxAsync(total, start + (long)(MemoryRunLimit.TotalSeconds * Stopwatch.Frequency), ct);
        var tick = 0;
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(1000, ct));
            Check(node, watcher);
            Sample(node);
            if (++tick % 10 == 0)
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  t={Stopwatch.GetElapsedTime(start).TotalSeconds,5:F0}s committed {ledger.CommittedCount,10:N0}  pending {ledger.Pending,8:N0}  node RSS {BenchResult.Mb(node.ProcStatusBytes("VmRSS"))}"));
            }
        }
        await run;
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        // Let the node settle (a block in flight, a background GC) before reading its memory.
        await Task.Delay(3000, ct);
        Sample(node);
        var rss = node.ProcStatusBytes("VmRSS");
        var (latencies, _) = ledger.Latencies(0, total, 0, long.MaxValue);
        log.WriteLine($"  {ledger.CommittedCount:N0} committed in {seconds:F1} s; node VmRSS {BenchResult.Mb(rss)}, VmHWM {BenchResult.Mb(_peak)}");
        return new MemoryRunResult(options.Senders, total, ledger.CommittedCount, seconds, ledger.CommittedCount / seconds,
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), rss, _peak);
    }

    private static void Check(NodeProcess node, CommitWatcher watcher)
    {
        if (node.HasExited)
        {
            throw new InvalidOperationException($"The node exited during the run:\n{node.Tail()}");
        }
        if (watcher.Fault is { } e)
        {
            throw new InvalidOperationException($"Watching commits failed: {e.Message}", e);
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static List<Goal> Goals(PhaseResult? max, PhaseResult? half, MemoryRunResult? memory)
    {
        var goals = new List<Goal>();
        if (max is not null)
        {
            goals.Add(new Goal("committed transfers/s sustained for a minute", "15,000",
                max.CommittedPerSecond.ToString("N0", CultureInfo.InvariantCulture), max.CommittedPerSecond >= 15_000 && max.WindowSeconds >= 60,
                max.WindowSeconds >= 60 ? "" : $"window was {max.WindowSeconds:F0} s, not 60"));
        }
        if (half is not null)
        {
            goals.Add(new Goal("p99 commit latency at half that load", "< 1 s", BenchResult.Ms(half.P99Seconds),
                half.P99Seconds < 1 && half.Uncommitted == 0,
                $"at {half.TargetRate:N0} tx/s, half the measured {(max?.CommittedPerSecond ?? 0):N0}, not half of 15,000"));
        }
        if (memory is not null)
        {
            goals.Add(new Goal("node memory after 1M transfers, 100k accounts", "< 500 MB", BenchResult.Mb(memory.NodeRssAfterBytes),
                memory.Total >= 1_000_000 && memory.Accounts >= 100_000 && memory.Committed == memory.Total ? memory.NodeRssAfterBytes < 500L * 1000 * 1000 : null,
                $"{memory.Total:N0} transfers, {memory.Accounts:N0} accounts"));
        }
        return goals;
    }

    private static MachineInfo Machine()
    {
        var cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        return new MachineInfo(Environment.ProcessorCount, cpu, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription);
    }
}
