using System.Net.Sockets;
using System.Text;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A node that lets one network hold 3 WebSocket connections of 4 subscriptions each.</summary>
public sealed class WsCapNode : TestNode
{
    public const int Connections = 3;
    public const int Subscriptions = 4;

    protected override void Configure(NodeOptions options)
    {
        options.WsConnectionsPerIp = Connections;
        options.WsSubscriptionsPerConnection = Subscriptions;
    }
}

/// <summary>
/// Attack 3 (docs/security.md): connections were unauthenticated and unlimited, and each subscription copied the whole set of
/// subscribers; the fan-out ran on the consensus thread. Now one network holds a bounded number of connections,
/// each a bounded number of subscriptions, and what is over is refused with a reason while the rest keeps working.
/// (That thousands of idle subscribers do not slow block production is a figure of the node bench:
/// <c>--idle-subscribers</c>.)
/// </summary>
public sealed class WebSocketCapsTests(WsCapNode node) : IClassFixture<WsCapNode>
{
    [Fact]
    public async Task Attack03_ConnectionsPerIpAndSubscriptionsPerConnectionAreCapped()
    {
        var watched = TestNode.EmptyKey().Address;
        var connections = new List<WsClient>();
        try
        {
            for (var i = 0; i < WsCapNode.Connections; i++)
            {
                connections.Add(await WsClient.ConnectAsync(node.Server.RpcUri));
            }

            // One more from the same network: refused before the upgrade, with a problem that says why.
            var (status, body) = await RawUpgradeAsync();
            Assert.Equal(429, status);
            Assert.Contains("\"code\":\"too_many_connections\"", body, StringComparison.Ordinal);

            // Subscriptions: four are taken, the fifth is refused, and one given up makes room again.
            var ws = connections[0];
            Assert.Equal("subscribed", (await ws.RequestAsync("""{"op":"subscribe","channel":"blocks"}""")).GetProperty("type").GetString());
            Assert.Equal("subscribed", (await ws.RequestAsync($$"""{"op":"subscribe","channel":"txs","address":"{{watched}}"}""")).GetProperty("type").GetString());
            Assert.Equal("subscribed", (await ws.RequestAsync("""{"op":"subscribe","channel":"escrows","jobId":"ws-cap-1"}""")).GetProperty("type").GetString());
            Assert.Equal("subscribed", (await ws.RequestAsync("""{"op":"subscribe","channel":"escrows","jobId":"ws-cap-2"}""")).GetProperty("type").GetString());
            var over = await ws.RequestAsync("""{"op":"subscribe","channel":"escrows","jobId":"ws-cap-3"}""");
            Assert.Equal("error", over.GetProperty("type").GetString());
            Assert.Equal("too_many_subscriptions", over.GetProperty("code").GetString());
            // Subscribing again to what it holds costs nothing more.
            Assert.Equal("subscribed", (await ws.RequestAsync("""{"op":"subscribe","channel":"blocks"}""")).GetProperty("type").GetString());
            Assert.Equal("unsubscribed", (await ws.RequestAsync("""{"op":"unsubscribe","channel":"escrows","jobId":"ws-cap-2"}""")).GetProperty("type").GetString());
            Assert.Equal("subscribed", (await ws.RequestAsync("""{"op":"subscribe","channel":"escrows","jobId":"ws-cap-3"}""")).GetProperty("type").GetString());

            // The refusals changed nothing for what was subscribed: the transfer to the watched address arrives.
            var transfer = TestNode.Sign(Tx.Transfer(watched, 7), node.FundedKey());
            await node.CommitAsync(transfer);
            var message = await ws.ReceiveAsync(m => m.GetProperty("channel").GetString() == "txs");
            Assert.Equal(transfer.Id.ToString(), message.GetProperty("hash").GetString());

            // A connection closed gives its place back.
            await connections[^1].DisposeAsync();
            connections.RemoveAt(connections.Count - 1);
            await MempoolFloodTests.WaitUntil(async () => (await RawUpgradeAsync()).Status == 101);
        }
        finally
        {
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    /// <summary>A WebSocket upgrade request by hand, so that a refusal's status and body can be read; the socket is closed after.</summary>
    private async Task<(int Status, string Body)> RawUpgradeAsync()
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        await tcp.ConnectAsync(node.Server.RpcUri.Host, node.Server.RpcUri.Port, timeout.Token);
        var stream = tcp.GetStream();
        var request = $"GET /v1/ws HTTP/1.1\r\nHost: {node.Server.RpcUri.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var text = received.ToString();
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd >= 0)
            {
                var status = int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
                var headers = text[..headerEnd].Split("\r\n");
                var lengthLine = headers.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                var chunked = headers.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase));
                var length = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var complete = chunked ? text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal) : text.Length >= headerEnd + 4 + length;
                if (status == 101 || complete)
                {
                    return (status, text[(headerEnd + 4)..]);
                }
            }
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, $"the node closed the connection after: {received}");
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
    }
}
