using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Aitbc.Bench.Node;

/// <summary>
/// Learns when each transfer is committed. The WebSocket <c>blocks</c> subscription says when a block
/// is committed (the moment its message arrives is the commit time of everything in it); then
/// <c>GET /v1/blocks/{h}</c> says which transfers the block holds. Heights are processed in order;
/// a height whose message never came (a dropped subscription) takes the arrival time of the next
/// message, an upper bound.
/// </summary>
internal sealed class CommitWatcher : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly Workload _work;
    private readonly Ledger _ledger;
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<(long Height, int TxCount, long Seen)> _notices = Channel.CreateUnbounded<(long, int, long)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(long Seen, int TxCount)> _blocks = [];
    private Task? _receiver;
    private Task? _fetcher;
    private long _nextHeight;

    public CommitWatcher(HttpClient http, Workload work, Ledger ledger)
    {
        _http = http;
        _work = work;
        _ledger = ledger;
    }

    /// <summary>Blocks observed so far: (arrival timestamp, transactions).</summary>
    public IReadOnlyList<(long Seen, int TxCount)> Blocks
    {
        get
        {
            lock (_blocks)
            {
                return [.. _blocks];
            }
        }
    }

    public long ForeignTxs { get; private set; }

    public Exception? Fault { get; private set; }

    public async Task StartAsync(Uri rpc, CancellationToken ct)
    {
        var ws = new UriBuilder(rpc) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        await _socket.ConnectAsync(ws, ct);
        await _socket.SendAsync("""{"op":"subscribe","channel":"blocks"}"""u8.ToArray(), WebSocketMessageType.Text, true, ct);
        // Everything after the head as of now is watched (the subscription is already in place).
        using var status = JsonDocument.Parse(await _http.GetByteArrayAsync(new Uri(rpc, "/v1/status"), ct));
        _nextHeight = status.RootElement.GetProperty("height").GetInt64() + 1;
        _receiver = Task.Run(ReceiveAsync, CancellationToken.None);
        _fetcher = Task.Run(FetchAsync, CancellationToken.None);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var count = 0;
                ValueWebSocketReceiveResult r;
                do
                {
                    if (count == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                    r = await _socket.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                    count += r.Count;
                }
                while (!r.EndOfMessage);
                var seen = Stopwatch.GetTimestamp();
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    throw new InvalidOperationException($"the node closed the blocks subscription: {_socket.CloseStatusDescription}");
                }
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, count));
                var root = doc.RootElement;
                if (root.TryGetProperty("channel", out var ch) && ch.ValueEquals("blocks") && root.TryGetProperty("height", out var h))
                {
                    var txCount = root.GetProperty("header").GetProperty("txCount").GetInt32();
                    _notices.Writer.TryWrite((h.GetInt64(), txCount, seen));
                }
                else if (root.TryGetProperty("type", out var type) && type.ValueEquals("error"))
                {
                    throw new InvalidOperationException($"the node refused the subscription: {Encoding.UTF8.GetString(buffer, 0, count)}");
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fault ??= e;
        }
        finally
        {
            _notices.Writer.TryComplete();
        }
    }

    private async Task FetchAsync()
    {
        var chars = new char[128];
        try
        {
            await foreach (var (height, txCount, seen) in _notices.Reader.ReadAllAsync(_stop.Token))
            {
                lock (_blocks)
                {
                    _blocks.Add((seen, txCount));
                }
                // Heights before this one that were never announced (none, normally) were committed no later than now.
                for (; _nextHeight <= height; _nextHeight++)
                {
                    if (_nextHeight == height && txCount == 0)
                    {
                        continue;
                    }
                    var json = await _http.GetByteArrayAsync(new Uri($"/v1/blocks/{_nextHeight}", UriKind.Relative), _stop.Token);
                    var foreign = _ledger.Commit(TransferIndices(json, chars), seen);
                    ForeignTxs += foreign;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fault ??= e;
        }
    }

    /// <summary>The transfer index of every transaction of a block (-1 for one that is not ours), read without building the block.</summary>
    private List<long> TransferIndices(byte[] json, char[] chars)
    {
        var result = new List<long>();
        var r = new Utf8JsonReader(json);
        r.Read();
        while (r.Read())
        {
            if (r.TokenType != JsonTokenType.PropertyName || r.CurrentDepth != 1)
            {
                continue;
            }
            if (!r.ValueTextEquals("txs"u8))
            {
                r.Skip();
                continue;
            }
            r.Read();
            while (r.Read() && r.TokenType == JsonTokenType.StartObject)
            {
                var depth = r.CurrentDepth;
                var fromLength = -1;
                long nonce = -1;
                while (r.Read() && !(r.TokenType == JsonTokenType.EndObject && r.CurrentDepth == depth))
                {
                    if (r.ValueTextEquals("from"u8))
                    {
                        r.Read();
                        fromLength = r.CopyString(chars);
                    }
                    else if (r.ValueTextEquals("nonce"u8))
                    {
                        r.Read();
                        nonce = r.GetInt64();
                    }
                    else
                    {
                        r.Skip();
                    }
                }
                result.Add(fromLength < 0 ? -1 : _work.IndexOf(chars.AsSpan(0, fromLength), nonce));
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var t in new[] { _receiver, _fetcher })
        {
            if (t is not null)
            {
                await t;
            }
        }
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bench done", cts.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // The node may already be gone.
            }
        }
        _socket.Dispose();
        _stop.Dispose();
    }
}
