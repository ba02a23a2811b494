using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using Aitbc.Core;

namespace Aitbc.Bench.Wallet;

/// <summary>
/// Closed-loop load on <c>POST /v1/wallets/{name}/sign</c>: one worker per HTTP/1.1 connection, each with one request
/// in flight, every request a new transfer with its own nonce and an explicit fee (so the daemon asks the node nothing).
/// </summary>
internal static class SignLoad
{
    /// <summary>
    /// <paramref name="CpuUsPerOp"/>: this process's CPU time (all threads: client, daemon, audit writer) per request
    /// in the measured window, which unlike the rate does not depend on what else the machine runs.
    /// </summary>
    public sealed record Result(long Signed, long Errors, double Seconds, double PerSecond, double P50Ms, double P90Ms, double P99Ms, double P999Ms,
        double MaxMs, string? FirstError, IReadOnlyList<byte[]> Samples, double CpuUsPerOp);

    private const int Warmup = 0, Measuring = 1, Stopped = 2;

    public static Task<Result> RunAsync(HttpClient http, string wallet, Address to, int connections, TimeSpan warmup, TimeSpan duration, CancellationToken ct) =>
        RunAsync(connections, warmup, duration, (w, phase) => WorkAsync(http, new Uri($"/v1/wallets/{wallet}/sign", UriKind.Relative), to, w, phase, ct), ct);

    /// <summary>
    /// The same closed loop on <c>GET /health/live</c> (no body, no auth, no work): what this machine's HTTP stack
    /// (client and server in one process, loopback TCP) can carry at all, the ceiling for any endpoint.
    /// </summary>
    public static Task<Result> FloorAsync(HttpClient http, int connections, TimeSpan warmup, TimeSpan duration, CancellationToken ct) =>
        RunAsync(connections, warmup, duration, (_, phase) => FloorWorkAsync(http, phase, ct), ct);

    private static async Task<Result> RunAsync(int connections, TimeSpan warmup, TimeSpan duration,
        Func<int, StrongBox<int>, Task<(List<long> Latencies, long Errors, string? FirstError, byte[]? Sample)>> work, CancellationToken ct)
    {
        var phase = new StrongBox<int>(Warmup);
        var workers = Enumerable.Range(0, connections).Select(w => Task.Run(() => work(w, phase), ct)).ToArray();
        await Task.Delay(warmup, ct);
        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref phase.Value, Measuring);
        await Task.Delay(duration, ct);
        Volatile.Write(ref phase.Value, Stopped);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        cpu = Environment.CpuUsage.TotalTime - cpu;
        var done = await Task.WhenAll(workers);

        var latencies = done.SelectMany(d => d.Latencies).ToArray();
        Array.Sort(latencies);
        double Ms(double q) => latencies.Length == 0 ? double.NaN
            : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))] * 1000.0 / Stopwatch.Frequency;
        var signed = latencies.Length - done.Sum(d => d.Errors);
        return new Result(signed, done.Sum(d => d.Errors), seconds, signed / seconds, Ms(0.50), Ms(0.90), Ms(0.99), Ms(0.999), Ms(1.0),
            done.Select(d => d.FirstError).FirstOrDefault(e => e is not null), [.. done.Select(d => d.Sample).OfType<byte[]>()],
            latencies.Length == 0 ? double.NaN : cpu.TotalMicroseconds / latencies.Length);
    }

    private static async Task<(List<long> Latencies, long Errors, string? FirstError, byte[]? Sample)> FloorWorkAsync(
        HttpClient http, StrongBox<int> phase, CancellationToken ct)
    {
        var latencies = new List<long>(1 << 14);
        var uri = new Uri("/health/live", UriKind.Relative);
        long errors = 0;
        while (Volatile.Read(ref phase.Value) != Stopped)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync(uri, ct);
            _ = await response.Content.ReadAsByteArrayAsync(ct);
            var elapsed = Stopwatch.GetTimestamp() - started;
            if (Volatile.Read(ref phase.Value) == Measuring)
            {
                latencies.Add(elapsed);
                errors += response.IsSuccessStatusCode ? 0 : 1;
            }
        }
        return (latencies, errors, null, null);
    }

    private static async Task<(List<long> Latencies, long Errors, string? FirstError, byte[]? Sample)> WorkAsync(
        HttpClient http, Uri uri, Address to, int worker, StrongBox<int> phase, CancellationToken ct)
    {
        var latencies = new List<long>(1 << 14);
        var json = new MediaTypeHeaderValue("application/json");
        var prefix = Encoding.UTF8.GetBytes($$"""{"type":"transfer","body":{"to":"{{to}}","amount":"1"},"fee":"1000","nonce":""");
        long errors = 0;
        string? firstError = null;
        byte[]? sample = null;
        // Nonces need not be consecutive (nothing is submitted), only distinct: worker << 32 keeps them below 2^53.
        var nonce = (long)worker << 32;
        while (Volatile.Read(ref phase.Value) != Stopped)
        {
            var body = new byte[prefix.Length + 21];
            prefix.CopyTo(body, 0);
            nonce++.TryFormat(body.AsSpan(prefix.Length), out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
            body[prefix.Length + written] = (byte)'}';
            using var content = new ByteArrayContent(body, 0, prefix.Length + written + 1);
            content.Headers.ContentType = json;
            var started = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(uri, content, ct);
            var answer = await response.Content.ReadAsByteArrayAsync(ct);
            var elapsed = Stopwatch.GetTimestamp() - started;
            if (Volatile.Read(ref phase.Value) != Measuring)
            {
                continue;
            }
            latencies.Add(elapsed);
            if (!response.IsSuccessStatusCode)
            {
                errors++;
                firstError ??= $"{(int)response.StatusCode}: {Encoding.UTF8.GetString(answer)}";
            }
            else
            {
                sample ??= answer;
            }
        }
        return (latencies, errors, firstError, sample);
    }
}
