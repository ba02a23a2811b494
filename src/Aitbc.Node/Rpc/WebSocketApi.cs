using System.Net.WebSockets;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>
/// WebSocket <c>/v1/ws</c>. The client sends <c>{"op":"subscribe"|"unsubscribe","channel":"blocks"}</c>,
/// <c>{"op":…,"channel":"txs","address":"ait1…"}</c>, or <c>{"op":…,"channel":"escrows","jobId":"…"}</c>
/// (or <c>"party":"ait1…"</c>, or <c>"all":true</c>); each is acknowledged, and committed events follow as JSON text messages.
/// </summary>
internal static class WebSocketApi
{
    private const int MaxClientMessage = 4096;

    public static RouteGroupBuilder MapWebSocketApi(this RouteGroupBuilder v1)
    {
        v1.Map("/ws", Connect).WithName("Subscribe").WithSummary("WebSocket subscriptions: blocks, an address's txs, escrows.");
        return v1;
    }

    private static async Task<IResult> Connect(NodeContext node, HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return Problems.Of(ApiErrors.MalformedRequest, "this endpoint speaks WebSocket only");
        }
        // Refused before the upgrade, so the client gets a problem it can read rather than a dropped socket.
        var subscriber = node.Events.Connect(Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(http), out var refusal);
        if (subscriber is null)
        {
            return Problems.Of(ApiErrors.TooManyConnections, refusal);
        }
        try
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            await ServeAsync(node, socket, subscriber, http.RequestAborted);
        }
        finally
        {
            node.Events.Disconnect(subscriber);
        }
        return Results.Empty;
    }

    private static async Task ServeAsync(NodeContext node, WebSocket socket, ChainEvents.Subscriber subscriber, CancellationToken aborted)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var sendLock = new SemaphoreSlim(1, 1);
        var sender = PumpAsync(socket, subscriber, sendLock, cts.Token);
        try
        {
            var buffer = new byte[MaxClientMessage];
            while (socket.State == WebSocketState.Open)
            {
                var (count, kind) = await ReceiveAsync(socket, buffer, cts.Token);
                if (kind == WebSocketMessageType.Close)
                {
                    break;
                }
                var reply = count < 0
                    ? Reply("error", null, $"a message may be at most {MaxClientMessage} bytes")
                    : Handle(node.Events, subscriber, buffer.AsSpan(0, count));
                await SendAsync(socket, reply, sendLock, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            await cts.CancelAsync();
            try
            {
                await sender;
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // The client went away while a message was on its way.
            }
            // CloseReceived: the client closed first and waits for our close frame to complete the handshake.
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var reason = subscriber.Overflowed ? "fell behind: subscribe again and catch up over REST" : "bye";
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, reason, CancellationToken.None);
            }
        }
    }

    private static async Task PumpAsync(WebSocket socket, ChainEvents.Subscriber s, SemaphoreSlim sendLock, CancellationToken ct)
    {
        await foreach (var message in s.Out.Reader.ReadAllAsync(ct))
        {
            await SendAsync(socket, message, sendLock, ct);
        }
        if (s.Overflowed && socket.State == WebSocketState.Open)
        {
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "fell behind: subscribe again and catch up over REST", ct);
        }
    }

    private static async Task SendAsync(WebSocket socket, byte[] message, SemaphoreSlim sendLock, CancellationToken ct)
    {
        await sendLock.WaitAsync(ct);
        try
        {
            await socket.SendAsync(message, WebSocketMessageType.Text, true, ct);
        }
        finally
        {
            sendLock.Release();
        }
    }

    /// <summary>One whole message; a count of -1 when it is larger than the buffer.</summary>
    private static async Task<(int, WebSocketMessageType)> ReceiveAsync(WebSocket socket, byte[] buffer, CancellationToken ct)
    {
        var count = 0;
        var tooLarge = false;
        while (true)
        {
            var segment = tooLarge || count == buffer.Length ? new ArraySegment<byte>(new byte[1024]) : new ArraySegment<byte>(buffer, count, buffer.Length - count);
            var r = await socket.ReceiveAsync(segment, ct);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                return (0, r.MessageType);
            }
            if (segment.Array == buffer)
            {
                count += r.Count;
            }
            else
            {
                tooLarge = true;
            }
            if (r.EndOfMessage)
            {
                return (tooLarge ? -1 : count, r.MessageType);
            }
        }
    }

    private static byte[] Handle(ChainEvents events, ChainEvents.Subscriber s, ReadOnlySpan<byte> message)
    {
        try
        {
            var reader = new Utf8JsonReader(message);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Reply("error", null, "send a JSON object such as {\"op\":\"subscribe\",\"channel\":\"blocks\"}");
            }
            var op = Str(root, "op");
            var channel = Str(root, "channel");
            if (op is not ("subscribe" or "unsubscribe"))
            {
                return Reply("error", channel, "op must be 'subscribe' or 'unsubscribe'");
            }
            var on = op == "subscribe";
            bool taken;
            switch (channel)
            {
                case "blocks":
                    taken = events.Blocks(s, on);
                    break;
                case "txs":
                    if (!Address.TryParse(Str(root, "address"), out var address, out var error))
                    {
                        return Reply("error", channel, $"txs needs a valid 'address': {error}");
                    }
                    taken = events.Address(s, address, on);
                    break;
                case "escrows":
                    var jobId = Str(root, "jobId");
                    if (root.TryGetProperty("all", out var all) && all.ValueKind == JsonValueKind.True)
                    {
                        taken = events.AllEscrows(s, on);
                    }
                    else if (TxLimits.IsValidJobId(jobId))
                    {
                        taken = events.Job(s, jobId!, on);
                    }
                    else if (Address.TryParse(Str(root, "party"), out var party, out _))
                    {
                        taken = events.Party(s, party, on);
                    }
                    else
                    {
                        return Reply("error", channel, "escrows needs a valid 'jobId', a 'party' address, or \"all\": true");
                    }
                    break;
                default:
                    return Reply("error", channel, "channel must be 'blocks', 'txs' or 'escrows'");
            }
            if (!taken)
            {
                return Reply("error", channel,
                    $"a connection may hold at most {events.SubscriptionsPerConnection} subscriptions; unsubscribe from some or open another connection",
                    "too_many_subscriptions");
            }
            return Reply(on ? "subscribed" : "unsubscribed", channel, null);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return Reply("error", null, $"malformed message: {e.Message}");
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static byte[] Reply(string type, string? channel, string? error, string? code = null)
    {
        var w = new CanonicalJsonWriter(128);
        w.StartObject();
        if (channel is not null)
        {
            w.Property("channel", channel);
        }
        if (code is not null)
        {
            w.Property("code", code);
        }
        if (error is not null)
        {
            w.Property("error", error);
        }
        w.Property("type", type);
        w.EndObject();
        return w.ToArray();
    }
}
