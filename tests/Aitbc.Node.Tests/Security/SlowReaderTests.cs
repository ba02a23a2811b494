using System.Net;
using System.Net.Sockets;
using System.Text;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A node that serves two block reads per network and three in all, in pages of up to 64 MiB, and two WebSockets in all.</summary>
public sealed class SlowReaderNode : TestNode
{
    public const int ReadsPerIp = 2;
    public const int Reads = 3;
    public const int WsTotal = 2;

    protected override void Configure(NodeOptions options)
    {
        options.BlockReadsPerIp = ReadsPerIp;
        options.BlockReads = Reads;
        options.BlocksPageBytes = 64 * 1024 * 1024;
        options.WsConnectionsPerIp = 1;
        options.WsConnections = WsTotal;
        options.SignaturesPerSecondPerIp = 1_000_000;
        options.SignatureBurstPerIp = 1_000_000;
    }
}

/// <summary>
/// Attack 11 (docs/security.md, the second review): a reader taking a page of blocks at a few hundred bytes a second (above
/// Kestrel's minimum rate) held the page's buffer (4 MiB, or a whole block) for as long as it liked, from as many connections
/// as it liked; WebSocket connections were capped per network only. Now block reads in progress are capped per network and
/// overall (what is over gets <c>429 rate_limited</c>), each holds one block at a time, and WebSockets are capped overall.
/// The clients come from 127.0.0.1, 127.0.0.2 and 127.0.0.3, three networks of the node's limits.
/// </summary>
public sealed class SlowReaderTests(SlowReaderNode node) : IClassFixture<SlowReaderNode>
{
    [Fact]
    public async Task Attack11_SlowBlockReadersAreCappedPerNetworkAndOverall()
    {
        // About 13 MB of blocks a page.
        var first = (await node.HeadAsync()).Height + 1;
        foreach (var sender in Enumerable.Range(0, 6).Select(_ => node.FundedKey()))
        {
            var txs = Enumerable.Range(0, 3_600).Select(n => TestNode.Sign(Tx.Transfer(TestKeys.Bob.Address, 1, new string('m', 256)).WithNonce(n), sender)).ToArray();
            Assert.Equal(txs.Length, (await node.BatchAsync(txs)).GetProperty("accepted").GetInt32());
        }
        await MempoolFloodTests.WaitUntil(async () => (await node.HeadAsync()).Mempool == 0);
        var before = await node.HeadAsync();
        var page = $"/v1/blocks?from={first}&limit=100";

        var slow = new List<Socket>();
        try
        {
            // Two readers from one network that never read: a third read from it is refused once both are being served.
            // Each asks for the page ten times over (pipelined): far more than any socket buffers hold, however the kernel
            // sizes them, so each keeps a read in progress; its first bytes show the node is serving it.
            slow.Add(await ServingAsync(await SendAsync("127.0.0.1", Pipelined(page), receiveBuffer: 1024)));
            slow.Add(await ServingAsync(await SendAsync("127.0.0.1", Pipelined(page), receiveBuffer: 1024)));
            var refused = await WaitForStatusAsync("127.0.0.1", Get(page), 429);
            Assert.Contains("\"code\":\"rate_limited\"", refused, StringComparison.Ordinal);
            Assert.Contains($"already has {SlowReaderNode.ReadsPerIp} block reads in progress", refused, StringComparison.Ordinal);

            // A third slow reader from another network reaches the overall cap: a fourth network is refused too.
            slow.Add(await ServingAsync(await SendAsync("127.0.0.2", Pipelined(page), receiveBuffer: 1024)));
            refused = await WaitForStatusAsync("127.0.0.3", Get("/v1/blocks/latest"), 429);
            Assert.Contains($"maximum of {SlowReaderNode.Reads} block reads", refused, StringComparison.Ordinal);

            // The rest of the node answers as before, and nothing moved.
            Assert.Equal(before, await node.HeadAsync());
        }
        finally
        {
            foreach (var s in slow)
            {
                s.Dispose();
            }
        }

        // Once the slow readers are gone their reads end and others are served, in full.
        var body = await WaitForStatusAsync("127.0.0.3", Get(page), 200);
        Assert.Contains($"\"head\":{before.Height}", body, StringComparison.Ordinal);
        Assert.Equal(before, await node.HeadAsync());
    }

    [Fact]
    public async Task Attack11_WebSocketConnectionsAreCappedOverall()
    {
        var before = await node.HeadAsync();
        var open = new List<Socket>();
        try
        {
            // One per network is allowed, two in all: the third network's upgrade is refused before it happens.
            foreach (var ip in new[] { "127.0.0.4", "127.0.0.5" })
            {
                var s = await SendAsync(ip, Upgrade());
                open.Add(s);
                Assert.Equal(101, (await ReadAsync(s)).Status);
            }
            using var third = await SendAsync("127.0.0.6", Upgrade());
            var (status, body) = await ReadAsync(third);
            Assert.Equal(429, status);
            Assert.Contains("\"code\":\"too_many_connections\"", body, StringComparison.Ordinal);
            Assert.Contains($"maximum of {SlowReaderNode.WsTotal} WebSocket connections", body, StringComparison.Ordinal);
            Assert.Equal(before, await node.HeadAsync());
        }
        finally
        {
            foreach (var s in open)
            {
                s.Dispose();
            }
        }

        // A closed connection gives its place back.
        await MempoolFloodTests.WaitUntil(async () =>
        {
            using var s = await SendAsync("127.0.0.6", Upgrade());
            return (await ReadAsync(s)).Status == 101;
        });
    }

    private string Get(string path) => $"GET {path} HTTP/1.1\r\nHost: {node.Server.RpcUri.Authority}\r\n\r\n";

    private string Pipelined(string path) => string.Concat(Enumerable.Repeat(Get(path), 10));

    /// <summary>Waits for the first bytes of the answer on <paramref name="socket"/> (its read is being served) and reads no more.</summary>
    private static async Task<Socket> ServingAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        Assert.True(await socket.ReceiveAsync(new byte[16], timeout.Token) > 0, "the node answers the slow reader");
        return socket;
    }

    private string Upgrade() => $"GET /v1/ws HTTP/1.1\r\nHost: {node.Server.RpcUri.Authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    /// <summary>Connects from <paramref name="localIp"/> and sends <paramref name="request"/>; a small receive buffer makes a slow reader.</summary>
    private async Task<Socket> SendAsync(string localIp, string request, int receiveBuffer = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (receiveBuffer > 0)
            {
                socket.ReceiveBufferSize = receiveBuffer;
            }
            socket.Bind(new IPEndPoint(IPAddress.Parse(localIp), 0));
            using var timeout = new CancellationTokenSource(TestNode.Patience);
            await socket.ConnectAsync(IPAddress.Loopback, node.Server.RpcUri.Port, timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends the request from <paramref name="localIp"/> until the answer has <paramref name="status"/>; returns its body.</summary>
    private async Task<string> WaitForStatusAsync(string localIp, string request, int status)
    {
        string? body = null;
        await MempoolFloodTests.WaitUntil(async () =>
        {
            using var s = await SendAsync(localIp, request);
            var answer = await ReadAsync(s);
            body = answer.Body;
            return answer.Status == status;
        });
        return body!;
    }

    /// <summary>Reads one answer: its status and body (a 101's body is empty).</summary>
    private static async Task<(int Status, string Body)> ReadAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TestNode.Patience * 3);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var headerEnd = -1;
        var status = 0;
        var length = 0L;
        var chunked = false;
        var end = "\r\n0\r\n\r\n"u8.ToArray();
        while (true)
        {
            var bytes = received.GetBuffer().AsSpan(0, (int)received.Length);
            if (headerEnd < 0 && bytes.IndexOf("\r\n\r\n"u8) is var h and >= 0)
            {
                headerEnd = h;
                var headers = Encoding.ASCII.GetString(bytes[..h]).Split("\r\n");
                status = int.Parse(headers[0].AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
                var lengthLine = headers.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                chunked = headers.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase));
                length = lengthLine is null ? 0 : long.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            if (headerEnd >= 0)
            {
                var complete = chunked ? bytes.EndsWith(end) : bytes.Length >= headerEnd + 4 + length;
                if (status == 101 || complete)
                {
                    return (status, status == 101 ? "" : Encoding.UTF8.GetString(bytes[(headerEnd + 4)..]));
                }
            }
            var read = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.True(read > 0, $"the node closed the connection after {received.Length} bytes");
            received.Write(buffer, 0, read);
        }
    }
}
