using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Aitbc.Coordinator.Client;
using Aitbc.Node.Client;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>What a <see cref="FakeProvider"/> does with a job it receives.</summary>
public enum ProviderMode
{
    /// <summary>Checks the escrow on the chain, accepts, streams tokens, posts the result with a signed receipt, settles.</summary>
    Complete,

    /// <summary>Declines every job over the dispatch connection.</summary>
    Reject,

    /// <summary>Does nothing by itself: the test takes the job from <see cref="FakeProvider.NextJobAsync"/> and drives it.</summary>
    Hold,
}

/// <summary>
/// A provider daemon as the coordinator sees one, speaking the real protocol: signed HTTP to register and
/// heartbeat, a signed WebSocket dial-out (<c>/v1/providers/connect</c>) for work, accept / token / reject
/// messages, a signed usage receipt posted with the result, and <c>escrow.settle</c> (or <c>escrow.refund</c>)
/// on the chain. Its model is a deterministic echo: the output is the prompt's words, up to maxTokens.
/// </summary>
public sealed class FakeProvider : IAsyncDisposable
{
    public const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private readonly TimeProvider _time;
    private readonly NodeClient _node;
    private readonly string _chainId;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly SemaphoreSlim _nonceLock = new(1, 1);
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<JobOffer> _held = Channel.CreateUnbounded<JobOffer>();
    private readonly ConcurrentBag<Task> _work = [];
    private ClientWebSocket? _socket;
    private Task? _receiving;
    private Task? _heartbeats;
    private CancellationTokenSource? _heartbeatStop;
    private long? _nextNonce;

    public FakeProvider(Ed25519Key key, Uri coordinator, NodeClient node, string chainId, TimeProvider time, IReadOnlyList<(string Model, ulong PriceIn, ulong PriceOut)> models,
        int concurrency = 4)
    {
        Key = key;
        Coordinator = coordinator;
        Models = models;
        Concurrency = concurrency;
        _node = node;
        _chainId = chainId;
        _time = time;
        _slots = new SemaphoreSlim(concurrency, concurrency);
        Http = new HttpClient(new SigningHandler(key, time)) { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Ed25519Key Key { get; }

    public Address Address => Key.Address;

    public Uri Coordinator { get; }

    public IReadOnlyList<(string Model, ulong PriceIn, ulong PriceOut)> Models { get; }

    public int Concurrency { get; }

    public ProviderMode Mode { get; set; } = ProviderMode.Complete;

    /// <summary>Whether a completed job is settled on the chain, and whether the settle waits for its block.</summary>
    public bool Settle { get; set; } = true;

    public bool WaitForSettle { get; set; } = true;

    /// <summary>Signed by this provider's key.</summary>
    public HttpClient Http { get; }

    /// <summary>Every job id received over the dispatch connection, with how many times it came.</summary>
    public ConcurrentDictionary<string, int> Received { get; } = new(StringComparer.Ordinal);

    /// <summary>Jobs this provider completed: the receipt it signed.</summary>
    public ConcurrentDictionary<string, UsageReceipt> Completed { get; } = new(StringComparer.Ordinal);

    /// <summary>What went wrong in the background (a refused result, a settle the node refused), for failure messages.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    public async Task<Reply> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri(path, UriKind.Relative), content);
        return await Reply.FromAsync(response);
    }

    public Task<Reply> RegisterAsync() => PostAsync("/v1/providers/register", JsonSerializer.Serialize(new RegisterProviderRequest(
        [.. Models.Select(m => new ModelOffer(m.Model, Digest, new Amount(m.PriceIn), new Amount(m.PriceOut)))], Concurrency, "test-1", "fake"),
        CoordinatorJson.Default.RegisterProviderRequest));

    public Task<Reply> HeartbeatAsync() => PostAsync("/v1/providers/heartbeat", "{}");

    /// <summary>Registers, heartbeats in the background every <paramref name="every"/>, and opens the dispatch connection.</summary>
    public async Task StartAsync(TimeSpan? every = null, bool connect = true)
    {
        (await RegisterAsync()).Expect(System.Net.HttpStatusCode.OK);
        StartHeartbeats(every ?? TimeSpan.FromSeconds(1));
        if (connect)
        {
            await ConnectAsync();
        }
    }

    public void StartHeartbeats(TimeSpan every)
    {
        _heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var ct = _heartbeatStop.Token;
        _heartbeats = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(every, ct);
                    var reply = await HeartbeatAsync();
                    if (reply.Status != System.Net.HttpStatusCode.OK)
                    {
                        Errors.Enqueue($"heartbeat: {reply.Text}");
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
                {
                    // Stopped, or the coordinator is going away.
                }
            }
        }, CancellationToken.None);
    }

    /// <summary>The provider goes silent: no more heartbeats.</summary>
    public async Task StopHeartbeatsAsync()
    {
        if (_heartbeatStop is not null)
        {
            await _heartbeatStop.CancelAsync();
            await _heartbeats!;
            _heartbeatStop.Dispose();
            _heartbeatStop = null;
        }
    }

    /// <summary>The headers of a signed request, for a WebSocket whose handshake no handler can sign.</summary>
    public (string Address, string Timestamp, string Signature) SignHeaders(string method, string pathAndQuery, long? timestamp = null)
    {
        var ts = timestamp ?? _time.GetUtcNow().ToUnixTimeMilliseconds();
        return (Address.ToString(), ts.ToString(CultureInfo.InvariantCulture), HttpSignature.Sign(Key, method, pathAndQuery, ts, []));
    }

    /// <summary>Dials out to the coordinator for work (the provider may be behind NAT).</summary>
    public async Task ConnectAsync()
    {
        var socket = new ClientWebSocket();
        var (address, timestamp, signature) = SignHeaders("GET", DispatchMessage.Path);
        socket.Options.SetRequestHeader(HttpSignature.AddressHeader, address);
        socket.Options.SetRequestHeader(HttpSignature.TimestampHeader, timestamp);
        socket.Options.SetRequestHeader(HttpSignature.SignatureHeader, signature);
        var uri = new UriBuilder(new Uri(Coordinator, DispatchMessage.Path)) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(uri, _stop.Token);
        _socket = socket;
        _receiving = Task.Run(() => ReceiveAsync(socket, _stop.Token), CancellationToken.None);
    }

    /// <summary>Closes the dispatch connection (the provider goes away).</summary>
    public async Task DisconnectAsync()
    {
        if (_socket is { } socket)
        {
            _socket = null;
            try
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // Already gone.
            }
            await _receiving!;
            socket.Dispose();
        }
    }

    /// <summary>The next job this provider was given (in <see cref="ProviderMode.Hold"/>).</summary>
    public async Task<JobOffer> NextJobAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await _held.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"provider {Address} was given no job; errors: {string.Join("; ", Errors)}");
        }
    }

    private async Task ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await socket.ReceiveAsync(buffer, ct);
                    message.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                if (DispatchMessage.TryRead(message.ToArray(), out var unreadable) is not JobMessage { Job: var job })
                {
                    Errors.Enqueue($"a dispatch message that is no job: {unreadable}");
                    continue;
                }
                var id = job.Id;
                Received.AddOrUpdate(id, 1, (_, n) => n + 1);
                switch (Mode)
                {
                    case ProviderMode.Hold:
                        _held.Writer.TryWrite(job);
                        break;
                    case ProviderMode.Reject:
                        await SendAsync(new RejectMessage(id, "this provider is draining"));
                        break;
                    default:
                        _work.Add(Task.Run(() => WorkAsync(job), CancellationToken.None));
                        break;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The connection ended.
        }
    }

    public Task SendAsync(DispatchMessage message) => SendRawAsync(message.ToUtf8Bytes());

    public async Task SendRawAsync(byte[] message)
    {
        var socket = _socket ?? throw new InvalidOperationException("not connected");
        await _sendLock.WaitAsync();
        try
        {
            await socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public Task AcceptAsync(string jobId) => SendAsync(new AcceptMessage(jobId));

    public Task TokenAsync(string jobId, string text) => SendAsync(new TokenMessage(jobId, text));

    /// <summary>The echo model: the prompt's (or the messages') words, at most maxTokens of them, as tokens.</summary>
    public static IReadOnlyList<string> Tokens(JobOffer job)
    {
        var text = string.Join(' ', job.Texts());
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(job.MaxTokens).ToList();
        return [.. words.Select((w, i) => i == words.Count - 1 ? w : w + " ")];
    }

    /// <summary>The metered usage of a job: input tokens (words plus a template's few, within the bound) and the output's tokens.</summary>
    public static (long TokensIn, long TokensOut, Amount Amount) Meter(JobOffer job, IReadOnlyList<string> tokens)
    {
        var input = job.Input.ToString();
        long tokensIn = Math.Min(job.InputTokenBound, input.Split(' ').Length + 4);
        long tokensOut = tokens.Count;
        var amount = Pricing.Cost(tokensIn, tokensOut, job.PriceIn, job.PriceOut)!.Value;
        return (tokensIn, tokensOut, amount);
    }

    public UsageReceipt SignReceipt(JobOffer job, long tokensIn, long tokensOut, Amount amount, string output) =>
        UsageReceipt.Sign(Key, job.Id, job.Model, job.ModelDigest, tokensIn, tokensOut, amount, output);

    /// <summary>The body of <c>POST /v1/jobs/{id}/result</c>: the output and the signed receipt.</summary>
    public static string ResultBody(string output, UsageReceipt receipt) =>
        JsonSerializer.Serialize(PostResultRequest.Of(output, receipt), CoordinatorJson.Default.PostResultRequest);

    public Task<Reply> PostResultAsync(string jobId, string output, UsageReceipt receipt) => PostAsync($"/v1/jobs/{jobId}/result", ResultBody(output, receipt));

    public Task<Reply> PostFailureAsync(string jobId, string reason) => PostAsync($"/v1/jobs/{jobId}/fail", JsonSerializer.Serialize(new FailJobRequest(reason), CoordinatorJson.Default.FailJobRequest));

    /// <summary>The whole job as a provider daemon does it (at most <see cref="Concurrency"/> at once): no escrow, no work.</summary>
    public async Task WorkAsync(JobOffer job)
    {
        var id = job.Id;
        await _slots.WaitAsync();
        try
        {
            var escrow = await _node.EscrowAsync(id);
            if (escrow is null || escrow.Status != "locked" || escrow.Provider != Address || escrow.Amount < job.Amount)
            {
                await SendAsync(new RejectMessage(id, "no escrow on the chain for this job"));
                return;
            }
            await AcceptAsync(id);
            var tokens = Tokens(job);
            foreach (var t in tokens)
            {
                await TokenAsync(id, t);
            }
            var output = string.Concat(tokens);
            var (tokensIn, tokensOut, amount) = Meter(job, tokens);
            var receipt = SignReceipt(job, tokensIn, tokensOut, amount, output);
            var reply = await PostResultAsync(id, output, receipt);
            if (reply.Status != System.Net.HttpStatusCode.OK)
            {
                Errors.Enqueue($"result of {id}: {reply.Text}");
                return;
            }
            Completed[id] = receipt;
            if (Settle)
            {
                var settled = await SubmitAsync(new EscrowSettleBody(id, amount, receipt.Hash), WaitForSettle);
                if (!settled.Accepted)
                {
                    Errors.Enqueue($"settle of {id}: {settled.Problem}");
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or WebSocketException or InvalidOperationException or NodeException)
        {
            Errors.Enqueue($"job {id}: {e.Message}");
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Signs with this provider's next nonce (kept here, so many settles can be on their way at once) and submits.</summary>
    public async Task<SubmitResult> SubmitAsync(TxBody body, bool waitForCommit = true)
    {
        await _nonceLock.WaitAsync();
        try
        {
            var nonce = _nextNonce ?? (await _node.AccountAsync(Address)).NextNonce;
            var result = await _node.SubmitAsync(Transaction.Sign(Key, _chainId, nonce, new Amount(ChainNode.Fee), body), waitForCommit);
            _nextNonce = result.Accepted ? nonce + 1 : null;
            return result;
        }
        finally
        {
            _nonceLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatsAsync();
        await DisconnectAsync();
        await _stop.CancelAsync();
        await Task.WhenAll(_work);
        Http.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
        _nonceLock.Dispose();
        _slots.Dispose();
    }
}
