using System.Net.WebSockets;

namespace Aitbc.Core;

/// <summary>One WebSocket message read into a buffer: its length; whether the peer closed instead; whether it did not fit.</summary>
public readonly record struct WebSocketMessage(int Count, bool Closed, bool TooLarge);

/// <summary>Reading whole WebSocket messages into a fixed buffer, as every connection of the services does.</summary>
public static class WebSocketMessages
{
    /// <summary>
    /// Reads the next message into <paramref name="buffer"/>. A message longer than the buffer is read as far as it
    /// fits and marked <see cref="WebSocketMessage.TooLarge"/> (the rest stays unread: the caller closes or gives up).
    /// </summary>
    public static async Task<WebSocketMessage> ReceiveAsync(WebSocket socket, byte[] buffer, CancellationToken ct)
    {
        var count = 0;
        WebSocketReceiveResult r;
        do
        {
            r = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), ct);
            count += r.Count;
        }
        while (!r.EndOfMessage && count < buffer.Length);
        return new WebSocketMessage(count, r.MessageType == WebSocketMessageType.Close, !r.EndOfMessage);
    }
}
