using System.Net.WebSockets;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Provider.Jobs;
using Aitbc.ServiceDefaults;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider;

/// <summary>
/// The provider's side of the market: registers its models and prices, heartbeats, and keeps a
/// dispatch connection open to the coordinator (it dials out, so it works behind NAT), reconnecting
/// with backoff and registering again when the coordinator has forgotten it.
/// </summary>
internal sealed partial class CoordinatorLink(JobRunner runner, ResultDeliveries deliveries, HttpClient coordinator, IProviderSigner signer, ProviderOptions options,
    TimeProvider time, ILogger<CoordinatorLink> log) : IDisposable
{
    private readonly MarketClient _market = new(coordinator);
    private readonly SemaphoreSlim _send = new(1, 1);
    private ClientWebSocket? _socket;

    public bool Connected => _socket?.State == WebSocketState.Open;

    public long JobsReceived;

    private int _handling;

    /// <summary>Dispatched jobs being handled: checked, run, or with their result or failure still being reported.</summary>
    public int Handling => Volatile.Read(ref _handling);

    public async Task RegisterAsync(CancellationToken ct)
    {
        var (priceIn, priceOut) = (new Amount((ulong)options.PriceIn), new Amount((ulong)options.PriceOut));
        var request = new RegisterProviderRequest([.. runner.Models.Values.Select(m => new ModelOffer(m.Name, m.Digest, priceIn, priceOut))],
            options.Concurrency, options.Region, options.Gpu);
        try
        {
            await _market.RegisterAsync(request, ct);
        }
        catch (MarketException e)
        {
            throw new InvalidOperationException($"The coordinator refused the registration: {e.Problem}", e);
        }
    }

    /// <summary>Heartbeats until stopped; registers again when the coordinator no longer knows this provider.</summary>
    public async Task HeartbeatAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.HeartbeatSeconds), time);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                await _market.HeartbeatAsync(ct);
            }
            catch (MarketException e) when (e.Problem.Status == 404)
            {
                await RegisterAsync(ct);
            }
            catch (MarketException e)
            {
                LogUnreachable(log, options.Coordinator, $"the heartbeat was refused: {e.Problem}");
            }
            catch (HttpRequestException e)
            {
                LogUnreachable(log, options.Coordinator, e.Message);
            }
            catch (InvalidOperationException e)
            {
                LogUnreachable(log, options.Coordinator, e.Message);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                // The request timed out: a slow coordinator must not end the heartbeats for good.
                LogUnreachable(log, options.Coordinator, e.Message);
            }
        }
    }

    /// <summary>Keeps the dispatch connection open until <paramref name="ct"/>; jobs run until <paramref name="jobs"/> is canceled.</summary>
    public async Task ConnectAsync(CancellationToken ct, CancellationToken jobs)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var socket = new ClientWebSocket();
                var ts = time.GetUtcNow().ToUnixTimeMilliseconds();
                const string path = DispatchMessage.Path;
                socket.Options.SetRequestHeader(HttpSignature.AddressHeader, signer.Address.ToString());
                socket.Options.SetRequestHeader(HttpSignature.TimestampHeader, ts.ToString(System.Globalization.CultureInfo.InvariantCulture));
                socket.Options.SetRequestHeader(HttpSignature.SignatureHeader, await signer.SignRequestAsync("GET", path, ts, Hash256.Compute([]), ct));
                var uri = new UriBuilder(new Uri(coordinator.BaseAddress!, path)) { Scheme = coordinator.BaseAddress!.Scheme == "https" ? "wss" : "ws" }.Uri;
                await socket.ConnectAsync(uri, ct);
                _socket = socket;
                backoff = TimeSpan.FromMilliseconds(200);
                await ReceiveAsync(socket, ct, jobs);
            }
            catch (WebSocketException e)
            {
                LogUnreachable(log, options.Coordinator, e.Message);
                if (e.Message.Contains("404", StringComparison.Ordinal))
                {
                    await TryRegisterAsync(ct);
                }
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException)
            {
                // The signer (the wallet daemon) could not sign the connection: try again later.
                LogUnreachable(log, options.Coordinator, e.Message);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            finally
            {
                _socket = null;
            }
            await Task.Delay(backoff, time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
        }
    }

    private async Task TryRegisterAsync(CancellationToken ct)
    {
        try
        {
            await runner.RefreshAsync(ct); // the backend's models may have changed meanwhile
            await RegisterAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or Inference.BackendException)
        {
            LogUnreachable(log, options.Coordinator, e.Message);
        }
    }

    private async Task ReceiveAsync(ClientWebSocket socket, CancellationToken ct, CancellationToken jobs)
    {
        var buffer = new byte[1024 * 1024];
        while (socket.State == WebSocketState.Open && !ct.IsCancellationRequested)
        {
            var (count, closed, tooLarge) = await WebSocketMessages.ReceiveAsync(socket, buffer, ct);
            if (closed)
            {
                return;
            }
            if (tooLarge)
            {
                // Larger than any job: close, and the loop reconnects.
                await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, "message too large", CancellationToken.None);
                return;
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(buffer.AsMemory(0, count));
            }
            catch (JsonException e)
            {
                LogUnreachable(log, options.Coordinator, $"an unreadable dispatch message was ignored: {e.Message}");
                continue;
            }
            using var owned = doc;
            // The job is read twice: bound as the record, and checked field by field as it came (ReadDispatch), so that a
            // job that does not bind is still answered with the reason.
            var message = DispatchMessage.TryRead(doc.RootElement, out var unbound);
            if (message is JobMessage || IsJobEnvelope(doc.RootElement))
            {
                Interlocked.Increment(ref JobsReceived);
                var job = doc.RootElement.GetProperty("job").Clone();
                var offer = (message as JobMessage)?.Job;
                Interlocked.Increment(ref _handling);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await HandleJobAsync(socket, job, offer, unbound, jobs);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _handling);
                    }
                }, CancellationToken.None);
            }
        }
        if (socket.State == WebSocketState.Open)
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "draining", CancellationToken.None);
        }
    }

    /// <summary>
    /// Reads a dispatch message strictly, before anything else: <c>id</c> a valid job id, <c>client</c> an address,
    /// <c>model</c> a non-empty string, <c>modelDigest</c> absent, null or a string, <c>maxTokens</c> an integer from 1 to
    /// <see cref="MaxTokensLimit"/>, <c>input</c> {prompt} or {messages}, and a price that fits in 64 bits.
    /// </summary>
    internal static (JobSpec? Spec, string? Digest, string? Error) ReadDispatch(JsonElement j, ProviderOptions options)
    {
        static string? Str(JsonElement o, string name) =>
            o.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        if (j.ValueKind != JsonValueKind.Object)
        {
            return (null, null, "the job is not an object");
        }
        var id = Str(j, "id");
        if (!TxLimits.IsValidJobId(id))
        {
            return (null, null, "the job's id is not a valid job id");
        }
        if (!Address.TryParse(Str(j, "client"), out var client, out _))
        {
            return (null, null, "the job's client is not an address");
        }
        if (Str(j, "model") is not { Length: > 0 and <= 256 } model)
        {
            return (null, null, "the job's model is not a non-empty string");
        }
        string? digest = null;
        if (j.TryGetProperty("modelDigest", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind != JsonValueKind.String)
            {
                return (null, null, "the job's modelDigest is not a string");
            }
            digest = d.GetString();
        }
        if (!j.TryGetProperty("maxTokens", out var mt) || mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out var maxTokens) ||
            maxTokens is < 1 or > MaxTokensLimit)
        {
            return (null, null, $"the job's maxTokens is not an integer from 1 to {MaxTokensLimit}");
        }
        if (!j.TryGetProperty("input", out var input))
        {
            return (null, null, "the job has no input");
        }
        var (messages, prompt, inputError) = JobSpec.ReadInput(input);
        if (inputError is not null)
        {
            return (null, null, inputError);
        }
        return JobSpec.Priced(id!, client, model, messages, prompt, maxTokens, options) is { } spec
            ? (spec, digest, null)
            : (null, null, "the job's price does not fit in 64 bits");
    }

    /// <summary><c>{"type":"job","job":…}</c>, whether or not the job binds.</summary>
    private static bool IsJobEnvelope(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "job" &&
        root.TryGetProperty("job", out _);

    /// <summary>The most output tokens a job may ask for (the chain's and the coordinator's limit is far below).</summary>
    internal const int MaxTokensLimit = 1_000_000;

    private async Task HandleJobAsync(ClientWebSocket socket, JsonElement j, JobOffer? offer, string? unbound, CancellationToken jobs)
    {
        var id = j.ValueKind == JsonValueKind.Object && j.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : "";
        // What this handler holds until it hands it on: the job's claim (a refundable check) and a slot.
        JobSpec? claimed = null;
        var reserved = false;
        try
        {
            // Only what to run comes from the message: prices, quote and input bound are this provider's own,
            // whatever priceIn, priceOut, amount or inputTokenBound the message names.
            var (spec, digest, invalid) = ReadDispatch(j, options);
            if (spec is null || offer is null)
            {
                // A job the checks take but that does not bind as the record (a price or deadline of the wrong kind) is refused the same way.
                invalid ??= $"the job does not read: {unbound}";
                LogBadDispatch(log, id, invalid);
                await SendAsync(socket, new RejectMessage(id, invalid));
                return;
            }
            var (namedIn, namedOut) = (offer.PriceIn, offer.PriceOut);
            var check = await runner.CheckAsync(spec, digest, jobs);
            claimed = check.Refundable ? spec : null;
            if (check.Refusal is null && (namedIn != spec.PriceIn || namedOut != spec.PriceOut))
            {
                // The coordinator checks receipts against the prices it matched the job at: work metered at other prices
                // could be paid and never accepted. Its view of this provider is stale (or forged); the escrow goes back.
                check = check with { Refusal = $"the job names prices {namedIn}/{namedOut} per million tokens, this provider's are {spec.PriceIn}/{spec.PriceOut}" };
            }
            // A slot only for a job that checked out: refusals hold none.
            reserved = check.Refusal is null && runner.TryReserve();
            if (!reserved)
            {
                // At capacity, the escrow (this job's own client's, checked) goes back too: the coordinator fails a declined
                // job ("retry elsewhere"), and the client could otherwise not lock anew until the escrow expires.
                var reason = check.Refusal ?? "the provider is at full capacity";
                await SendAsync(socket, new RejectMessage(id, runner.Refuse(spec, reason).Refusal));
                // Only an escrow this dispatch claimed and found to be this job's goes back (never one of a job already running here).
                if (claimed is not null)
                {
                    claimed = null;
                    await runner.GiveBackAsync(spec, check);
                }
                return;
            }
            if (!await SendAsync(socket, new AcceptMessage(id)))
            {
                // The coordinator cannot have heard the accept: work done now could be paid for but never delivered.
                runner.Release();
                reserved = false;
                claimed = null;
                await runner.GiveBackAsync(spec, check);
                return;
            }
            // RunAsync owns the claim and the slot from here.
            (claimed, reserved) = (null, false);
            var outcome = await runner.RunAsync(spec, text => SendAsync(socket, new TokenMessage(id, text)), deliveries, jobs);
            if (outcome.Completed)
            {
                await deliveries.DeliverAsync(outcome.Kept!);
            }
            else if (!outcome.SettlePending)
            {
                // Refunded (or to be refunded at expiry): the coordinator hears of the failure. A settle still pending is no failure.
                await _market.FailAsync(id, outcome.Failure!, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is HttpRequestException or WebSocketException or OperationCanceledException or InvalidOperationException or KeyNotFoundException or FormatException
            or MarketException)
        {
            LogJobError(log, id, e.Message);
        }
        finally
        {
            if (reserved)
            {
                runner.Release();
            }
            if (claimed is not null)
            {
                runner.Unclaim(claimed);
            }
        }
    }

    /// <summary>Sends a message if the connection is still open; false when it could not be sent.</summary>
    private async Task<bool> SendAsync(ClientWebSocket socket, DispatchMessage message)
    {
        var bytes = message.ToUtf8Bytes();
        await _send.WaitAsync();
        try
        {
            if (socket.State != WebSocketState.Open)
            {
                return false;
            }
            await socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _send.Release();
        }
    }

    public void Dispose() => _send.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Coordinator {Coordinator}: {Reason}")]
    private static partial void LogUnreachable(ILogger log, string coordinator, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A dispatch message for job '{JobId}' was refused: {Reason}")]
    private static partial void LogBadDispatch(ILogger log, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: {Reason}")]
    private static partial void LogJobError(ILogger log, string jobId, string reason);
}
