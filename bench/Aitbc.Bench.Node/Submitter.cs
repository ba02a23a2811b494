using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Aitbc.Node.Rpc;

namespace Aitbc.Bench.Node;

/// <summary>
/// Submits pre-signed transfers in index order, either as fast as the node takes them (keeping at
/// most <c>--window</c> accepted-but-uncommitted, which stays below the mempool's capacity) or at a
/// fixed rate. Batches go to <c>POST /v1/txs/batch</c>; with <c>--single</c>, one transfer per
/// <c>POST /v1/txs</c>. A transfer refused because the pool was full is sent again; any other
/// refusal is counted with its reason.
/// </summary>
internal sealed class Submitter(HttpClient http, Workload work, Ledger ledger, BenchOptions options)
{
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");
    private readonly Lock _lock = new();
    private readonly ConcurrentQueue<int> _retry = new();
    private int _cursor;

    /// <summary>The next transfer index never sent.</summary>
    public int Cursor
    {
        get
        {
            lock (_lock)
            {
                return _cursor;
            }
        }
    }

    /// <summary>Set when a phase wanted more transfers than were signed for it.</summary>
    public bool RanOut { get; private set; }

    /// <summary>The longest a paced phase fell behind its schedule, in seconds.</summary>
    public double MaxLagSeconds { get; private set; }

    private int[] Take(int max, int limit)
    {
        lock (_lock)
        {
            var taken = new List<int>(max);
            while (taken.Count < max && _retry.TryDequeue(out var i))
            {
                taken.Add(i);
            }
            var n = Math.Min(max - taken.Count, limit - _cursor);
            for (var k = 0; k < n; k++)
            {
                taken.Add(_cursor + k);
            }
            _cursor += Math.Max(0, n);
            return [.. taken];
        }
    }

    /// <summary>As fast as the node takes them, until <paramref name="deadline"/> or transfer <paramref name="limit"/>.</summary>
    public async Task RunMaxAsync(int limit, long deadline, CancellationToken ct)
    {
        var chunk = options.Single ? 1 : options.Batch;
        var workers = Enumerable.Range(0, options.Connections).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < deadline && !ct.IsCancellationRequested)
            {
                if (ledger.Pending + chunk > options.Window)
                {
                    await Task.Delay(2, ct);
                    continue;
                }
                var batch = Take(chunk, limit);
                if (batch.Length == 0)
                {
                    if (Cursor >= limit && _retry.IsEmpty && ledger.Pending == 0)
                    {
                        return;
                    }
                    RanOut |= Cursor >= limit;
                    await Task.Delay(5, ct);
                    continue;
                }
                await SendAsync(batch, ct);
            }
        }, ct)).ToArray();
        await Task.WhenAll(workers);
    }

    /// <summary>At <paramref name="rate"/> transfers per second until <paramref name="deadline"/>, in small batches every 50 ms.</summary>
    public async Task RunPacedAsync(double rate, int limit, long deadline, CancellationToken ct)
    {
        using var slots = new SemaphoreSlim(options.Connections);
        var inFlight = new List<Task>();
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        var maxChunk = options.Single ? 1 : options.Batch;
        while (Stopwatch.GetTimestamp() < deadline && !ct.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var due = (long)(rate * elapsed) - sent;
            if (due <= 0)
            {
                await Task.Delay(options.Single ? 1 : 50, ct);
                continue;
            }
            MaxLagSeconds = Math.Max(MaxLagSeconds, due / rate);
            var batch = Take((int)Math.Min(due, maxChunk), limit);
            if (batch.Length == 0)
            {
                RanOut = true;
                break;
            }
            sent += batch.Length;
            await slots.WaitAsync(ct);
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    await SendAsync(batch, ct);
                }
                finally
                {
                    slots.Release();
                }
            }, ct));
            inFlight.RemoveAll(t => t.IsCompletedSuccessfully);
        }
        await Task.WhenAll(inFlight);
    }

    private async Task SendAsync(int[] batch, CancellationToken ct)
    {
        if (options.Single)
        {
            await SendOneAsync(batch[0], ct);
            return;
        }
        var size = 2 + batch.Length;
        foreach (var i in batch)
        {
            size += work.Json(i).Length;
        }
        var body = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var pos = 0;
            body[pos++] = (byte)'[';
            for (var k = 0; k < batch.Length; k++)
            {
                if (k > 0)
                {
                    body[pos++] = (byte)',';
                }
                var json = work.Json(batch[k]);
                json.CopyTo(body.AsSpan(pos));
                pos += json.Length;
            }
            body[pos++] = (byte)']';
            var now = Stopwatch.GetTimestamp();
            foreach (var i in batch)
            {
                ledger.Submitting(i, now);
            }
            using var content = new ByteArrayContent(body, 0, pos);
            content.Headers.ContentType = JsonType;
            using var response = await http.PostAsync(new Uri("/v1/txs/batch", UriKind.Relative), content, ct);
            var answer = await response.Content.ReadAsByteArrayAsync(ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"POST /v1/txs/batch answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(answer)}");
            }
            ReadBatchAnswer(batch, answer);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private void ReadBatchAnswer(int[] batch, byte[] answer)
    {
        using var doc = JsonDocument.Parse(answer);
        var root = doc.RootElement;
        var accepted = root.GetProperty("accepted").GetInt32();
        var refused = root.GetProperty("refused").GetInt32();
        if (refused > 0)
        {
            foreach (var item in root.GetProperty("results").EnumerateArray())
            {
                if (!item.GetProperty("accepted").GetBoolean())
                {
                    Refused(batch[item.GetProperty("index").GetInt32()], item.GetProperty("code").GetString() ?? "?", item.GetProperty("error").GetString() ?? "");
                }
            }
        }
        ledger.Answered(accepted, refused);
    }

    private async Task SendOneAsync(int index, CancellationToken ct)
    {
        using var content = new ReadOnlyMemoryContent(work.JsonMemory(index));
        content.Headers.ContentType = JsonType;
        ledger.Submitting(index, Stopwatch.GetTimestamp());
        using var response = await http.PostAsync(new Uri("/v1/txs", UriKind.Relative), content, ct);
        if (response.StatusCode == HttpStatusCode.Accepted)
        {
            ledger.Answered(1, 0);
            return;
        }
        var answer = await response.Content.ReadAsByteArrayAsync(ct);
        string code;
        string detail;
        try
        {
            using var doc = JsonDocument.Parse(answer);
            code = doc.RootElement.TryGetProperty("code", out var c) ? c.GetString() ?? "?" : $"http_{(int)response.StatusCode}";
            detail = doc.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
        }
        catch (JsonException)
        {
            code = $"http_{(int)response.StatusCode}";
            detail = System.Text.Encoding.UTF8.GetString(answer);
        }
        Refused(index, code, detail);
        ledger.Answered(0, 1);
    }

    private void Refused(int index, string code, string detail)
    {
        ledger.Refusals.Add(code, detail);
        if (code == ApiErrors.MempoolFull.Code)
        {
            _retry.Enqueue(index);
        }
    }
}
