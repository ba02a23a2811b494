using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.ServiceDefaults;

namespace Aitbc.Bench.Coordinator;

/// <summary>
/// A second subscriber to the node's <c>/v1/ws</c>, beside the coordinator's own follower: the <c>blocks</c> channel and
/// every escrow (<c>{"channel":"escrows","all":true}</c>, the subscription the coordinator's ChainFollower makes). The node
/// sends each committed block's announcement and then its escrow events to every subscriber in turn, so an escrow
/// event's arrival here is when the coordinator can first see that escrow.
/// </summary>
internal sealed class ChainWatch : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiving;

    /// <summary>Job id → (<see cref="Stopwatch"/> timestamp of its "locked" escrow event, block height).</summary>
    public ConcurrentDictionary<string, (long At, long Height)> Locked { get; } = new(StringComparer.Ordinal);

    /// <summary>Block height → <see cref="Stopwatch"/> timestamp of its announcement.</summary>
    public ConcurrentDictionary<long, long> Blocks { get; } = new();

    public static async Task<ChainWatch> StartAsync(Uri node, CancellationToken ct)
    {
        var watch = new ChainWatch();
        await watch._socket.ConnectAsync(new UriBuilder(new Uri(node, "/v1/ws")) { Scheme = "ws" }.Uri, ct);
        await watch._socket.SendAsync("""{"op":"subscribe","channel":"blocks"}"""u8.ToArray(), WebSocketMessageType.Text, true, ct);
        await watch._socket.SendAsync("""{"op":"subscribe","channel":"escrows","all":true}"""u8.ToArray(), WebSocketMessageType.Text, true, ct);
        watch._receiving = Task.Run(() => watch.ReceiveAsync(watch._stop.Token), CancellationToken.None);
        return watch;
    }

    private async Task ReceiveAsync(CancellationToken ct)
    {
        var buffer = new byte[1024 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var (count, closed, _) = await WebSocketMessages.ReceiveAsync(_socket, buffer, ct);
                var arrived = Stopwatch.GetTimestamp();
                if (closed)
                {
                    return;
                }
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, count));
                var root = doc.RootElement;
                if (!root.TryGetProperty("channel", out var channel) || !root.TryGetProperty("height", out var height))
                {
                    continue; // The subscriptions' acknowledgements.
                }
                if (channel.GetString() == "blocks")
                {
                    Blocks.TryAdd(height.GetInt64(), arrived);
                }
                else if (channel.GetString() == "escrows" && root.TryGetProperty("escrow", out var escrow) &&
                    escrow.GetProperty("status").GetString() == "locked")
                {
                    Locked.TryAdd(escrow.GetProperty("jobId").GetString()!, (arrived, height.GetInt64()));
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The connection ended.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_receiving is not null)
        {
            await _receiving;
        }
        _socket.Dispose();
        _stop.Dispose();
    }
}
