using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aitbc.Core;

namespace Aitbc.Node.Client;

/// <summary>An event of the node's WebSocket (<c>/v1/ws</c>): a committed block, a transaction of a watched address, an escrow change.</summary>
public abstract record NodeEvent;

/// <summary>A committed block (channel <c>blocks</c>).</summary>
public sealed record BlockEvent(long Height, Hash256 Hash, long Time, Address Proposer, int TxCount) : NodeEvent;

/// <summary>A committed transaction of a watched address (channel <c>txs</c>).</summary>
public sealed record TxEvent(Address Address, Hash256 Hash, long Height, int Index, Transaction Tx) : NodeEvent;

/// <summary>An escrow's change in a committed block (channel <c>escrows</c>).</summary>
public sealed record EscrowEvent(EscrowInfo Escrow, long Height) : NodeEvent;

/// <summary>The node's answer to a subscription request.</summary>
public sealed record SubscribedEvent(string Channel) : NodeEvent;

/// <summary>
/// A connection to the node's WebSocket: subscribe, then read typed events. The node's messages are parsed here and
/// nowhere else.
/// </summary>
public sealed class NodeEvents : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly byte[] _buffer = new byte[1024 * 1024];

    private NodeEvents(ClientWebSocket socket) => _socket = socket;

    public static async Task<NodeEvents> ConnectAsync(Uri node, CancellationToken ct = default)
    {
        var socket = new ClientWebSocket();
        var uri = new UriBuilder(new Uri(node, "/v1/ws")) { Scheme = node.Scheme == "https" ? "wss" : "ws" }.Uri;
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new NodeEvents(socket);
    }

    public Task SubscribeBlocksAsync(CancellationToken ct = default) => SendAsync(new Subscribe("subscribe", "blocks"), ct);

    public Task SubscribeTxsAsync(Address address, CancellationToken ct = default) => SendAsync(new Subscribe("subscribe", "txs", Address: address), ct);

    /// <summary>Escrow changes of one job, of one party, or (<paramref name="all"/>) of every job.</summary>
    public Task SubscribeEscrowsAsync(string? jobId = null, Address? party = null, bool all = false, CancellationToken ct = default) =>
        SendAsync(new Subscribe("subscribe", "escrows", JobId: jobId, Party: party, All: all ? true : null), ct);

    /// <summary>The next event; null when the node closed the connection. A refused subscription is a <see cref="NodeException"/>.</summary>
    public async Task<NodeEvent?> ReadAsync(CancellationToken ct = default)
    {
        while (true)
        {
            var m = await WebSocketMessages.ReceiveAsync(_socket, _buffer, ct);
            if (m.Closed)
            {
                return null;
            }
            if (m.TooLarge)
            {
                throw new InvalidOperationException($"the node sent a message over {_buffer.Length} bytes");
            }
            if (Parse(_buffer.AsSpan(0, m.Count)) is { } e)
            {
                return e;
            }
        }
    }

    /// <summary>One message of the node's WebSocket as an event; null for one of a kind this client does not know.</summary>
    public static NodeEvent? Parse(ReadOnlySpan<byte> message)
    {
        var msg = JsonSerializer.Deserialize<Message>(message, NodeClient.Json) ?? throw new JsonException("an empty message");
        if (msg.Type == "error")
        {
            throw new NodeException(new Problem(400, msg.Code ?? "error", "the node refused the request", msg.Error));
        }
        if (msg.Type == "subscribed")
        {
            return new SubscribedEvent(msg.Channel ?? "");
        }
        switch (msg.Channel)
        {
            case "blocks" when msg.Header is { } h && msg.Hash is { } hash:
                return new BlockEvent(h.Height, hash, h.Time, h.Proposer, h.TxCount);
            case "txs" when msg.Tx is { } raw && msg.Address is { } address && msg.Hash is { } hash:
                if (!Transaction.TryParse(Encoding.UTF8.GetBytes(raw.GetRawText()), out var tx, out var error))
                {
                    throw new JsonException($"the node sent a transaction that does not parse: {error}");
                }
                return new TxEvent(address, hash, msg.Height ?? 0, msg.Index ?? 0, tx);
            case "escrows" when msg.Escrow is { } escrow:
                return new EscrowEvent(escrow, msg.Height ?? escrow.Height);
            default:
                return null;
        }
    }

    private async Task SendAsync(Subscribe request, CancellationToken ct) =>
        await _socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(request, NodeClient.Json), WebSocketMessageType.Text, true, ct);

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // The node went first; nothing to close.
            }
        }
        _socket.Dispose();
    }

    private sealed record Subscribe(string Op, string Channel, Address? Address = null, string? JobId = null, Address? Party = null, bool? All = null);

    private sealed record Header(long Height, long Time, Address Proposer, int TxCount);

    private sealed record Message(string? Type, string? Channel, string? Code, string? Error, Hash256? Hash, long? Height, int? Index,
        Address? Address, Header? Header, JsonElement? Tx, EscrowInfo? Escrow);
}
