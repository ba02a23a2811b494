using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Jobs;

/// <summary>A result to deliver: its job, the body of <c>POST /v1/jobs/{id}/result</c> and its receipt's hash.</summary>
internal sealed record PendingResult(string JobId, byte[] Body, Hash256 ReceiptHash)
{
    /// <summary>Whether the escrow is known settled for this receipt (true for a job settled in this process).</summary>
    public bool Paid { get; set; }
}

/// <summary>
/// Results of dispatched jobs on their way to the coordinator. A result (output and signed receipt)
/// is written to <c>{DataDir}/deliveries/{provider}/{jobId}.json</c> before the escrow is settled
/// (a temporary file, synced, then renamed; files 0600 in 0700 folders) and removed only once the
/// coordinator acknowledges it: a 2xx, or a 409 for a job that is already completed with this very
/// receipt (an earlier post whose answer was lost). Network errors, 408, 429 and 5xx are retried
/// with exponential backoff from 1 s up to <see cref="ProviderOptions.DeliveryRetryMaxSeconds"/>
/// (a Retry-After is honoured, up to an hour); any other answer stops the delivery with a warning
/// naming the problem code, and the file is moved into <c>refused/</c> for the operator.
/// Pending results are delivered again when the provider starts, once the chain shows their escrow
/// settled for their receipt (never for an escrow that was not paid: that file goes into <c>unpaid/</c>).
/// </summary>
internal sealed partial class ResultDeliveries : IDisposable
{
    private const string Suffix = ".json";
    public const string Refused = "refused";
    public const string Unpaid = "unpaid";
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(1);
    // A result answer carries the output (at most 1 MiB of UTF-8, up to 6 bytes of JSON per byte when escaped) and the receipt.
    private const int MaxResultAnswerBytes = (6 * 1024 * 1024) + (64 * 1024);
    private readonly HttpClient _coordinator;
    private readonly NodeClient _node;
    private readonly ProviderOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ResultDeliveries> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, Task> _retrying = new(StringComparer.Ordinal);

    private readonly bool _direct;

    /// <summary>
    /// With <paramref name="direct"/>, the results of direct-path jobs (<c>{DataDir}/direct/{provider}/</c>): kept the same way,
    /// never posted to the coordinator, served to the escrow's client by <c>GET /v1/jobs/{id}</c>.
    /// </summary>
    public ResultDeliveries(HttpClient coordinator, NodeClient node, Address provider, ProviderOptions options, TimeProvider time, ILogger<ResultDeliveries> log,
        bool direct = false)
    {
        _direct = direct;
        _coordinator = coordinator;
        _node = node;
        _options = options;
        _time = time;
        _log = log;
        Directory = Path.Combine(Path.GetFullPath(options.DataDir), direct ? "direct" : "deliveries", provider.ToString());
    }

    /// <summary>Where this provider's pending results are kept.</summary>
    public string Directory { get; }

    /// <summary>Results not yet acknowledged by the coordinator and still being retried.</summary>
    public int Retrying => _retrying.Count;

    public long Delivered;

    private string PathOf(string jobId) => Path.Combine(Directory, jobId + Suffix);

    /// <summary>Writes the result to disk, durably, before the escrow is settled for it.</summary>
    public async Task<PendingResult> SaveAsync(string jobId, string output, UsageReceipt receipt)
    {
        var pending = new PendingResult(jobId, Body(output, receipt), receipt.Hash);
        PrivateFiles.CreateDirectory(Directory);
        var path = PathOf(jobId);
        if (File.Exists(path))
        {
            // A result of this job is kept already (its settle may be pending, or it is being delivered): never replaced.
            throw new IOException($"a result of job '{jobId}' is kept already");
        }
        var temporary = path + ".tmp";
        await using (var file = PrivateFiles.Create(temporary))
        {
            await file.WriteAsync(pending.Body);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        return pending;
    }

    /// <summary>
    /// A saved result whose settle did not commit: forgotten when the settle was refused; when it is still
    /// pending, watched on the chain and delivered only if the settle commits after all (else set aside as unpaid).
    /// </summary>
    public void Unsettled(PendingResult pending, bool stillPending)
    {
        if (stillPending && _direct)
        {
            return; // kept: the client fetches it once the chain shows the settle
        }
        if (stillPending)
        {
            Retry(pending, FirstBackoff);
        }
        else
        {
            File.Delete(PathOf(pending.JobId));
        }
    }

    /// <summary>Posts the result once now; when that does not get an answer that ends it, keeps retrying in the background.</summary>
    public async Task DeliverAsync(PendingResult pending)
    {
        var (done, wait) = await AttemptAsync(pending, _stop.Token);
        if (!done)
        {
            Retry(pending, wait ?? FirstBackoff);
        }
    }

    /// <summary>A kept result (its body and its receipt's hash), or null when none is kept for the job.</summary>
    public async Task<(byte[] Body, Hash256 ReceiptHash)?> ReadAsync(string jobId, CancellationToken ct)
    {
        byte[] body;
        try
        {
            body = await File.ReadAllBytesAsync(PathOf(jobId), ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return TryReadReceiptHash(body, out var hash) ? (body, hash) : null;
    }

    /// <summary>On start: every result a previous run left undelivered goes out again.</summary>
    public void Resume()
    {
        if (_direct || !System.IO.Directory.Exists(Directory))
        {
            return;
        }
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(path);
            var jobId = name.EndsWith(Suffix, StringComparison.Ordinal) ? name[..^Suffix.Length] : null;
            if (!TxLimits.IsValidJobId(jobId))
            {
                continue; // *.tmp, and anything else that is not a pending result
            }
            var body = File.ReadAllBytes(path);
            if (!TryReadReceiptHash(body, out var hash))
            {
                SetAside(jobId!, Refused);
                LogUnreadable(_log, jobId!, path);
                continue;
            }
            LogResuming(_log, jobId!);
            Retry(new PendingResult(jobId!, body, hash), TimeSpan.Zero);
        }
    }

    private void Retry(PendingResult pending, TimeSpan wait)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        // The task waits for its entry to be in the table, so that its removal at the end cannot come first.
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var retry = Task.Run(async () =>
        {
            if (!await entered.Task.ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                return; // this job is being retried already
            }
            try
            {
                var backoff = FirstBackoff;
                while (true)
                {
                    await Task.Delay(wait, _time, _stop.Token);
                    var (done, retryAfter) = await AttemptAsync(pending, _stop.Token);
                    if (done)
                    {
                        return;
                    }
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(_options.DeliveryRetryMaxSeconds).Ticks));
                    wait = retryAfter ?? backoff;
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                // Shutting down: the file stays, and the next start delivers it.
            }
            finally
            {
                _retrying.TryRemove(pending.JobId, out _);
            }
        }, CancellationToken.None);
        if (_retrying.TryAdd(pending.JobId, retry))
        {
            entered.SetResult();
        }
        else
        {
            entered.SetCanceled();
        }
    }

    /// <summary>One try: (true, _) when the delivery is over (acknowledged or given up), else (false, the server's Retry-After if any).</summary>
    private async Task<(bool Done, TimeSpan? RetryAfter)> AttemptAsync(PendingResult pending, CancellationToken ct)
    {
        var id = pending.JobId;
        try
        {
            if (!pending.Paid)
            {
                var escrow = await _node.EscrowAsync(id, ct);
                if (escrow is { Status: "settled" } && escrow.Receipt == pending.ReceiptHash)
                {
                    pending.Paid = true;
                }
                else if (escrow is { Status: "locked" } && escrow.ExpiresAt > _time.GetUtcNow().ToUnixTimeMilliseconds())
                {
                    return (false, null); // the settle may still be in a block to come
                }
                else
                {
                    SetAside(id, Unpaid);
                    LogUnpaid(_log, id, escrow?.Status ?? "missing");
                    return (true, null);
                }
            }
            using var content = new ByteArrayContent(pending.Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var posted = await _coordinator.PostAsync(new Uri($"/v1/jobs/{id}/result", UriKind.Relative), content, ct);
            if (posted.IsSuccessStatusCode || (posted.StatusCode == HttpStatusCode.Conflict && await AlreadyCompletedAsync(pending, ct)))
            {
                File.Delete(PathOf(id));
                Interlocked.Increment(ref Delivered);
                return (true, null);
            }
            var problem = await NodeClient.ReadProblemAsync(posted, ct);
            if (posted.StatusCode == HttpStatusCode.Conflict && problem.Code == "wrong_state" &&
                await _node.EscrowAsync(id, ct) is { Status: "settled" } paid && paid.Receipt == pending.ReceiptHash)
            {
                // Paid on the chain for this receipt, yet the coordinator holds the job failed or expired (its sweeper can race a
                // slow settle): not final; the coordinator completes such a job with its result, so it is posted again with backoff.
                LogPaidButWrongState(_log, id, problem.ToString());
                return (false, RetryAfter(posted));
            }
            if (posted.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)posted.StatusCode >= 500)
            {
                LogRetrying(_log, id, problem.Code, problem.ToString());
                return (false, RetryAfter(posted));
            }
            SetAside(id, Refused);
            LogRefused(_log, id, problem.Code, problem.ToString(), Path.Combine(Directory, Refused));
            return (true, null);
        }
        // HttpRequestException and IOException: no answer; InvalidOperationException: the signer (wallet daemon) could not sign; NodeException: the node refused the read.
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or NodeException or JsonException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            LogRetrying(_log, id, "unreachable", e.Message);
            return (false, null);
        }
    }

    /// <summary>A 409 to a repeated post: delivered already when the coordinator holds this same receipt for the job.</summary>
    private async Task<bool> AlreadyCompletedAsync(PendingResult pending, CancellationToken ct)
    {
        using var response = await _coordinator.GetAsync(new Uri($"/v1/jobs/{pending.JobId}/result", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }
        // The answer holds the output again; read no more of it than such an answer can take.
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxResultAnswerBytes];
        var read = 0;
        for (int n; read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), ct)) > 0;)
        {
            read += n;
        }
        if (read == buffer.Length)
        {
            return false;
        }
        return JsonSerializer.Deserialize(buffer.AsSpan(0, read), CoordinatorJson.Default.JobResult)?.ReceiptHash == pending.ReceiptHash;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var wait = header?.Delta ?? (header?.Date is { } at ? at - _time.GetUtcNow() : null);
        return wait is null ? null : wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxRetryAfter ? MaxRetryAfter : wait;
    }

    /// <summary>Moves a kept result that will not be delivered into <c>refused/</c> or <c>unpaid/</c>, for the operator.</summary>
    private void SetAside(string jobId, string folder)
    {
        var path = PathOf(jobId);
        if (File.Exists(path))
        {
            var aside = Path.Combine(Directory, folder);
            PrivateFiles.CreateDirectory(aside);
            File.Move(path, Path.Combine(aside, jobId + Suffix), overwrite: true);
        }
    }

    internal static byte[] Body(string output, UsageReceipt receipt)
    {
        var w = new CanonicalJsonWriter(1024 + (output.Length * 2));
        w.StartObject();
        w.Property("output", output);
        w.Name("receipt");
        receipt.WriteJson(w);
        w.EndObject();
        return w.ToArray();
    }

    private static bool TryReadReceiptHash(byte[] body, out Hash256 hash)
    {
        hash = default;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("receipt", out var r) && UsageReceipt.TryParse(r, out var receipt, out _))
            {
                hash = receipt.Hash;
                return true;
            }
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Stops retrying (the files stay for the next start) and waits for the retries to end.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_retrying.Values);
    }

    public void Dispose() => _stop.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The result of {JobId} is not delivered yet ({Code}: {Reason}); it is kept and retried")]
    private static partial void LogRetrying(ILogger log, string jobId, string code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The result of {JobId} is paid on the chain but the coordinator answered wrong_state ({Reason}); it is kept and posted again")]
    private static partial void LogPaidButWrongState(ILogger log, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The coordinator refused the result of {JobId} ({Code}: {Reason}); it is no longer retried and is kept in {Path}")]
    private static partial void LogRefused(ILogger log, string jobId, string code, string reason, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The kept result of {JobId} is not delivered: its escrow is {Status}, not settled for its receipt (kept in unpaid/)")]
    private static partial void LogUnpaid(ILogger log, string jobId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The kept result of {JobId} at {Path} cannot be read; it is set aside in refused/")]
    private static partial void LogUnreadable(ILogger log, string jobId, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivering the kept result of {JobId} left by an earlier run")]
    private static partial void LogResuming(ILogger log, string jobId);
}
