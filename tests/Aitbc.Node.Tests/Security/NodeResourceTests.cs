using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Aitbc.Node.Rpc;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A node that serves pages of at most 64 KiB of blocks.</summary>
public sealed class SmallPageNode : TestNode
{
    public const int PageBytes = 64 * 1024;

    protected override void Configure(NodeOptions options)
    {
        options.BlocksPageBytes = PageBytes;
        options.SignaturesPerSecondPerIp = 1_000_000;
        options.SignatureBurstPerIp = 1_000_000;
    }
}

/// <summary>A node that checks one signature per second for a network, after a first full batch.</summary>
public sealed class SlowSignatureNode : TestNode
{
    protected override void Configure(NodeOptions options)
    {
        options.SignaturesPerSecondPerIp = 1;
        options.SignatureBurstPerIp = TxsApi.MaxBatch;
    }
}

/// <summary>Allocation is measured across the process, so these run alone.</summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// Attack 11 (docs/security.md): a page of full blocks was built in one buffer, a request body was allocated at the length a
/// client claimed, and anyone could have 10,000 signatures checked per request as often as they liked.
/// </summary>
public sealed class BlockPageTests(SmallPageNode node) : IClassFixture<SmallPageNode>
{
    [Fact]
    public async Task Attack11_APageOfLargeBlocksIsCappedByBytesAndSaysWhereToContinue()
    {
        // Three blocks of 200 transfers each, every one well over a third of the cap.
        var first = (await node.HeadAsync()).Height + 1;
        for (var b = 0; b < 3; b++)
        {
            var senders = Enumerable.Range(0, 10).Select(_ => node.FundedKey()).ToArray();
            var txs = senders.SelectMany(k => Enumerable.Range(0, 20).Select(n => TestNode.Sign(Tx.Transfer(TestKeys.Bob.Address, 1, new string('m', 200)).WithNonce(n), k))).ToArray();
            Assert.Equal(txs.Length, (await node.BatchAsync(txs)).GetProperty("accepted").GetInt32());
            await MempoolFloodTests.WaitUntil(async () => (await node.HeadAsync()).Mempool == 0);
        }
        var head = (await node.HeadAsync()).Height;

        var seen = new List<long>();
        var from = first;
        while (from <= head)
        {
            using var response = await node.Http.GetAsync(new Uri($"/v1/blocks?from={from}&limit=100", UriKind.Relative));
            var bytes = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var page = JsonDocument.Parse(bytes);
            var blocks = page.RootElement.GetProperty("blocks").EnumerateArray().ToArray();
            Assert.NotEmpty(blocks);
            // Past the cap only when a single block is larger than it.
            Assert.True(bytes.Length <= SmallPageNode.PageBytes + 1024 || blocks.Length == 1, $"a page of {blocks.Length} blocks took {bytes.Length} bytes");
            seen.AddRange(blocks.Select(b => b.GetProperty("header").GetProperty("height").GetInt64()));
            if (!page.RootElement.TryGetProperty("next", out var next))
            {
                break;
            }
            Assert.Equal(seen[^1] + 1, next.GetInt64());
            from = next.GetInt64();
        }

        Assert.Equal(Enumerable.Range(0, (int)(head - first + 1)).Select(i => first + i), seen);
        Assert.True(seen.Count >= 3);
    }
}

[Collection(nameof(AllocationCollection))]
public sealed class RequestBodyTests(SmallPageNode node) : IClassFixture<SmallPageNode>
{
    private const int Requests = 20;

    [Fact]
    public async Task Attack11_AClaimedContentLengthIsNotAllocatedBeforeTheBytesArrive()
    {
        var before = (await node.HeadAsync()).Mempool;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        // Each claims a full batch (40 MiB), sends 20 bytes and stops.
        var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => ClaimAndStopAsync(TxsApi.MaxBatchBody)));
        var grown = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        // Kestrel answers 400 or closes a connection whose body ended short of its Content-Length, once it has read what came.
        Assert.All(answers, a => Assert.True(a == "closed" || a.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), a));
        // Buffers at the claimed size would be 800 MiB; what arrived needs a few kilobytes each.
        Assert.True(grown < Requests * (long)TxsApi.MaxBatchBody / 4, $"{grown:N0} bytes allocated while {Requests} bodies of 20 bytes were read");
        Assert.Equal(before, (await node.HeadAsync()).Mempool);
    }

    /// <summary>Posts headers that promise <paramref name="claimed"/> bytes, sends a few, ends its side; returns the answer's start, or "closed".</summary>
    private async Task<string> ClaimAndStopAsync(int claimed)
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TestNode.Patience);
        await tcp.ConnectAsync(node.Server.RpcUri.Host, node.Server.RpcUri.Port, timeout.Token);
        var stream = tcp.GetStream();
        var head = $"POST /v1/txs/batch HTTP/1.1\r\nHost: {node.Server.RpcUri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {claimed}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + "[{\"chainId\":\"x\",\"no"), timeout.Token);
        tcp.Client.Shutdown(SocketShutdown.Send);
        var buffer = new byte[1024];
        try
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return read == 0 ? "closed" : Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            return "closed";
        }
    }
}

public sealed class SignatureRateTests(SlowSignatureNode node) : IClassFixture<SlowSignatureNode>
{
    [Fact]
    public async Task Attack11_BatchesOfSignaturesAreRateLimitedPerIp()
    {
        // The attack: 10,000 copies of a transaction with a bad signature, each checked, as often as the attacker likes.
        var bad = Tx.WithBadSignature(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1), TestNode.EmptyKey()));
        var first = await node.BatchAsync(Enumerable.Repeat(bad, TxsApi.MaxBatch));
        Assert.Equal(0, first.GetProperty("accepted").GetInt32());
        Assert.All(first.GetProperty("results").EnumerateArray(), r => Assert.Equal("bad_signature", r.GetProperty("code").GetString()));

        // The network's budget is spent: the next batch, valid as it is, is refused before any signature is checked.
        var sender = node.FundedKey();
        var before = await node.AccountAsync(sender.Address);
        var valid = Enumerable.Range(0, 100).Select(n => TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(n), sender)).ToArray();
        using var refused = await node.PostJsonAsync("/v1/txs/batch", "[" + string.Join(",", valid.Select(t => Encoding.UTF8.GetString(t.ToJsonBytes()))) + "]");
        var problem = await TestNode.ReadJsonAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("rate_limited", problem.GetProperty("code").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);

        // Nothing was admitted.
        Assert.Equal(0, (await node.HeadAsync()).Mempool);
        using var unknown = await node.Http.GetAsync(new Uri($"/v1/txs/{valid[0].Id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(before, await node.AccountAsync(sender.Address));
    }
}
