using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Aitbc.Core;

namespace Aitbc.Bench.Node;

/// <summary>
/// Many WebSocket connections held open while the node is loaded, each subscribed to the transfers of an address
/// and the escrow of a job that no transaction of the run touches: what they cost the node is the cost of being
/// subscribed, not of receiving. Each keeps a receive pending, so a cut-off connection is noticed.
/// </summary>
internal sealed class IdleSubscribers : IAsyncDisposable
{
    private const int ConnectingAtOnce = 64;
    private readonly List<ClientWebSocket> _sockets = [];
    private readonly List<Task> _receivers = [];
    private readonly CancellationTokenSource _stop = new();
    private int _closedByNode;

    public int Count => _sockets.Count;

    /// <summary>Connections the node closed before the end.</summary>
    public int ClosedByNode => Volatile.Read(ref _closedByNode);

    public static async Task<IdleSubscribers> OpenAsync(Uri rpc, int count, CancellationToken ct)
    {
        var idle = new IdleSubscribers();
        var uri = new UriBuilder(rpc) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        using var gate = new SemaphoreSlim(ConnectingAtOnce);
        var sockets = new ClientWebSocket[count];
        try
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    var socket = new ClientWebSocket();
                    sockets[i] = socket;
                    await socket.ConnectAsync(uri, ct);
                    var address = new Address(SHA256.HashData(BitConverter.GetBytes(i)));
                    await RequestAsync(socket, $$"""{"op":"subscribe","channel":"txs","address":"{{address}}"}""", ct);
                    await RequestAsync(socket, $$"""{"op":"subscribe","channel":"escrows","jobId":"bench-idle-{{i}}"}""", ct);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        catch
        {
            foreach (var s in sockets)
            {
                s?.Dispose();
            }
            throw;
        }
        foreach (var s in sockets)
        {
            idle._sockets.Add(s);
            idle._receivers.Add(idle.WatchAsync(s));
        }
        return idle;
    }

    private static async Task RequestAsync(ClientWebSocket socket, string message, CancellationToken ct)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, ct);
        var buffer = new byte[1024];
        var r = await socket.ReceiveAsync(buffer, ct);
        var reply = Encoding.UTF8.GetString(buffer, 0, r.Count);
        if (r.MessageType == WebSocketMessageType.Close || !reply.Contains("\"subscribed\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the node refused an idle subscription: {reply} {socket.CloseStatusDescription}");
        }
    }

    private async Task WatchAsync(ClientWebSocket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var r = await socket.ReceiveAsync(buffer, _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    Interlocked.Increment(ref _closedByNode);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
            Interlocked.Increment(ref _closedByNode);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_receivers);
        foreach (var s in _sockets)
        {
            s.Abort();
            s.Dispose();
        }
        _stop.Dispose();
    }
}
