using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>A client of <c>/v1/ws</c>: JSON text messages in and out, with a patient receive.</summary>
internal sealed class WsClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<WsClient> ConnectAsync(Uri rpc)
    {
        var s = new WsClient();
        var uri = new UriBuilder(rpc) { Scheme = "ws", Path = "/v1/ws" }.Uri;
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        await s._socket.ConnectAsync(uri, timeout.Token);
        return s;
    }

    /// <summary>Sends a message and returns the reply to it (the next message that is not an event).</summary>
    public async Task<JsonElement> RequestAsync(string message)
    {
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, timeout.Token);
        return await ReceiveAsync(m => m.TryGetProperty("type", out _));
    }

    /// <summary>The next message that matches, skipping others; fails after <see cref="TestNode.Patience"/>.</summary>
    public async Task<JsonElement> ReceiveAsync(Func<JsonElement, bool> match)
    {
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult r;
            do
            {
                r = await _socket.ReceiveAsync(buffer, timeout.Token);
                Assert.NotEqual(WebSocketMessageType.Close, r.MessageType);
                message.Write(buffer, 0, r.Count);
            }
            while (!r.EndOfMessage);
            using var doc = JsonDocument.Parse(message.ToArray());
            var root = doc.RootElement.Clone();
            if (match(root))
            {
                return root;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TestNode.Patience);
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        }
        _socket.Dispose();
    }
}
