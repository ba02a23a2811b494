using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Bench.Coordinator;

/// <summary>What one database's submission phase measured.</summary>
internal sealed record SubmitFigures(
    int Connections, double Seconds, long Created, double PerSecond, double P50Ms, double P90Ms, double P99Ms, double MaxMs,
    double CpuUsPerSubmission, IReadOnlyDictionary<string, long> Refused, bool RanOut, int AnswerBytes);

/// <summary>
/// The submission load: one HTTP/1.1 connection per client key (its own <see cref="SigningHandler"/>, so every request is
/// signed at send time: Ed25519 over method, path, timestamp and the body's hash), one request in flight on each (closed
/// loop). Bodies are built before any clock runs; each has its own idempotency key, so every accepted one creates a job.
/// </summary>
internal static class SubmitLoad
{
    /// <param name="reuseBodies">Send the bodies round again when they run out (for a server that neither remembers keys nor creates jobs).</param>
    public static async Task<SubmitFigures> RunAsync(Uri coordinator, Ed25519Key[] clients, string[] models, int maxTokens, BenchOptions o, TextWriter progress,
        CancellationToken ct, bool reuseBodies = false)
    {
        var perConnection = (int)Math.Ceiling((double)o.MaxRate * (o.Warmup + o.Seconds) / clients.Length);
        var run = Guid.NewGuid().ToString("N")[..8];
        var bodies = new byte[clients.Length][][];
        Parallel.For(0, clients.Length, c =>
        {
            bodies[c] = new byte[perConnection][];
            for (var i = 0; i < perConnection; i++)
            {
                bodies[c][i] = JsonSerializer.SerializeToUtf8Bytes(SubmitJobRequest.OfPrompt(models[(c + i) % models.Length],
                    $"summarise the following text in one line: the quick brown fox jumps over the lazy dog {i}", maxTokens, new Amount(1_000_000_000_000),
                    $"{run}-{c}-{i}"), CoordinatorJson.Default.SubmitJobRequest);
            }
        });
        var http = clients.Select(k => new HttpClient(new SigningHandler(k)) { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) }).ToArray();
        try
        {
            var refused = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            var latencies = new List<double>[clients.Length];
            var created = new long[clients.Length];
            var ranOut = 0;
            var answerBytes = 0;
            var clock = Stopwatch.StartNew();
            var windowStart = TimeSpan.FromSeconds(o.Warmup);
            var windowEnd = TimeSpan.FromSeconds(o.Warmup + o.Seconds);
            // The process's CPU time (client, coordinator and the idle node together) over the measured window.
            var cpuTimer = Task.Run(async () =>
            {
                await Task.Delay(windowStart, ct);
                var before = Process.GetCurrentProcess().TotalProcessorTime;
                await Task.Delay(windowEnd > clock.Elapsed ? windowEnd - clock.Elapsed : TimeSpan.Zero, ct);
                return Process.GetCurrentProcess().TotalProcessorTime - before;
            }, ct);
            progress.WriteLine($"  submissions: {o.Warmup} s warm-up, then {o.Seconds} s measured, {clients.Length} connections…");
            await Task.WhenAll(Enumerable.Range(0, clients.Length).Select(c => Task.Run(async () =>
            {
                var mine = latencies[c] = new List<double>(perConnection);
                for (var i = 0; reuseBodies || i < perConnection; i++)
                {
                    var started = clock.Elapsed;
                    if (started >= windowEnd)
                    {
                        return;
                    }
                    using var content = new ByteArrayContent(bodies[c][i % perConnection]);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    using var response = await http[c].PostAsync(new Uri("/v1/jobs", UriKind.Relative), content, ct);
                    var text = await response.Content.ReadAsStringAsync(ct);
                    var finished = clock.Elapsed;
                    var inWindow = started >= windowStart && finished <= windowEnd;
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        if (inWindow)
                        {
                            answerBytes = Math.Max(answerBytes, Encoding.UTF8.GetByteCount(text));
                            mine.Add((finished - started).TotalMilliseconds);
                            created[c]++;
                        }
                    }
                    else
                    {
                        refused.AddOrUpdate($"{(int)response.StatusCode} {Code(text)}", 1, (_, n) => n + 1);
                    }
                }
                Interlocked.Exchange(ref ranOut, 1);
            }, ct)));
            var cpu = await cpuTimer;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var total = created.Sum();
            if (all.Length == 0)
            {
                throw new InvalidOperationException($"no job was created in the window; refusals: {string.Join(", ", refused.Select(r => $"{r.Key} ×{r.Value}"))}");
            }
            return new SubmitFigures(clients.Length, o.Seconds, total, total / (double)o.Seconds, Stats.Percentile(all, 50), Stats.Percentile(all, 90),
                Stats.Percentile(all, 99), all[^1], cpu.TotalMicroseconds / total, new Dictionary<string, long>(refused), ranOut == 1, answerBytes);
        }
        finally
        {
            foreach (var h in http)
            {
                h.Dispose();
            }
        }
    }

    private static string Code(string problem)
    {
        var at = problem.IndexOf("\"code\":\"", StringComparison.Ordinal);
        return at < 0 ? problem[..Math.Min(80, problem.Length)] : problem[(at + 8)..problem.IndexOf('"', at + 8)];
    }
}

internal static class Stats
{
    /// <summary>The nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The 1-, 5- and 15-minute load averages (<c>/proc/loadavg</c>).</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
