using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.EndToEnd.Tests.Infrastructure;
using Aitbc.Node;
using Xunit.Abstractions;

namespace Aitbc.EndToEnd.Tests;

/// <summary>
/// The node is killed with SIGKILL at random moments under a load of transfers, ten times over.
/// After each kill: replaying the stored chain from genesis gives the stored state root; after each
/// restart, every transaction that was reported committed is there at its height, and blocks go on.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 10;
    private const int WaitingSenders = 24;
    private const int BulkSenders = 1_000;
    private readonly TempDir _dir = new();

    [Fact]
    public async Task Sigkill_under_load_loses_nothing_reported_committed()
    {
        var waiting = Enumerable.Range(0, WaitingSenders).Select(_ => Ed25519Key.Generate()).ToArray();
        var bulk = Enumerable.Range(0, BulkSenders).Select(_ => Ed25519Key.Generate()).ToArray();
        var sink = Ed25519Key.Generate().Address;
        var dataDir = _dir.Sub("node");
        var files = Devnet.Create(dataDir, extra: [.. waiting.Concat(bulk).Select(k => new GenesisAllocation(k.Address, Amount.FromAit(1_000)))]);
        var genesis = Genesis.Parse(await File.ReadAllBytesAsync(files.Genesis));
        var committed = new ConcurrentDictionary<Hash256, long>();
        var random = new Random(20261124);

        for (var round = 0; round < Rounds; round++)
        {
            await using var node = await NodeProcess.StartAsync(dataDir, files.Genesis);
            await AssertAllPresent(node, committed);
            var committedBefore = committed.Count;

            using var stop = new CancellationTokenSource();
            var nonces = new ConcurrentDictionary<Address, long>();
            foreach (var k in waiting.Concat(bulk))
            {
                nonces[k.Address] = await Nonce(node, k.Address);
            }
            var workers = waiting.Select(k => WaitingWorker(node, genesis, k, sink, nonces, committed, stop.Token))
                .Append(BulkWorker(node, genesis, bulk, sink, nonces, stop.Token)).ToArray();

            await Task.Delay(random.Next(400, 2_500));
            await node.KillAsync();
            await stop.CancelAsync();
            await Task.WhenAll(workers);

            var (code, text) = await NodeProcess.RunToEndAsync("--verify", "--data-dir", dataDir, "--genesis", files.Genesis);
            output.WriteLine($"round {round}: {committed.Count} reported committed so far; verify: {text.Trim()}");
            Assert.True(code == 0, $"replay from genesis failed after kill {round}: {text}");
            Assert.Contains("matches the stored one", text, StringComparison.Ordinal);
            Assert.True(committed.Count > committedBefore, $"the load had nothing committed in round {round}");
        }

        // A last restart: everything is there, and the chain goes on producing.
        await using (var node = await NodeProcess.StartAsync(dataDir, files.Genesis))
        {
            await AssertAllPresent(node, committed);
            var before = await Height(node);
            var k = waiting[0];
            var tx = Transaction.Sign(k, genesis.ChainId, await Nonce(node, k.Address), genesis.Params.MinFee, new TransferBody(sink, new Amount(1)));
            using var r = await Post(node, "/v1/txs?wait=commit", tx.ToJsonBytes());
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.True(await Height(node) > before);
        }
        Assert.True(committed.Count >= Rounds, $"only {committed.Count} transactions were reported committed");
    }

    /// <summary>Submits one transfer at a time and waits for its block; what the node reports committed is recorded.</summary>
    private static async Task WaitingWorker(NodeProcess node, Genesis g, Ed25519Key key, Address to,
        ConcurrentDictionary<Address, long> nonces, ConcurrentDictionary<Hash256, long> committed, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var tx = Transaction.Sign(key, g.ChainId, nonces[key.Address], g.Params.MinFee, new TransferBody(to, new Amount(1_000)));
            try
            {
                using var r = await Post(node, "/v1/txs?wait=commit", tx.ToJsonBytes(), ct);
                if (r.StatusCode != HttpStatusCode.OK)
                {
                    return;
                }
                using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(ct));
                Assert.Equal("committed", doc.RootElement.GetProperty("status").GetString());
                committed[tx.Id] = doc.RootElement.GetProperty("height").GetInt64();
                nonces[key.Address]++;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                return; // The node was killed.
            }
        }
    }

    /// <summary>Keeps the node busy with batches of transfers that nobody waits for.</summary>
    private static async Task BulkWorker(NodeProcess node, Genesis g, Ed25519Key[] keys, Address to,
        ConcurrentDictionary<Address, long> nonces, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var batch = keys.Select(k => Transaction.Sign(k, g.ChainId, nonces[k.Address]++, g.Params.MinFee, new TransferBody(to, new Amount(1))))
                .Select(t => t.ToJsonBytes()).ToArray();
            var body = new byte[batch.Sum(b => b.Length + 1) + 1];
            var pos = 0;
            body[pos++] = (byte)'[';
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i].CopyTo(body, pos);
                pos += batch[i].Length;
                body[pos++] = (byte)(i + 1 < batch.Length ? ',' : ']');
            }
            try
            {
                using var r = await Post(node, "/v1/txs/batch", body, ct);
                await Task.Delay(50, ct);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                return;
            }
        }
    }

    private static async Task AssertAllPresent(NodeProcess node, ConcurrentDictionary<Hash256, long> committed)
    {
        foreach (var (id, height) in committed)
        {
            using var doc = JsonDocument.Parse(await node.Rpc.GetStringAsync(new Uri($"/v1/txs/{id}", UriKind.Relative)));
            Assert.Equal("committed", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(height, doc.RootElement.GetProperty("height").GetInt64());
        }
    }

    private static async Task<long> Height(NodeProcess node)
    {
        using var doc = JsonDocument.Parse(await node.Rpc.GetStringAsync(new Uri("/v1/status", UriKind.Relative)));
        return doc.RootElement.GetProperty("height").GetInt64();
    }

    private static async Task<long> Nonce(NodeProcess node, Address a)
    {
        using var doc = JsonDocument.Parse(await node.Rpc.GetStringAsync(new Uri($"/v1/accounts/{a}", UriKind.Relative)));
        return doc.RootElement.GetProperty("nonce").GetInt64();
    }

    private static Task<HttpResponseMessage> Post(NodeProcess node, string path, byte[] json, CancellationToken ct = default)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return node.Rpc.PostAsync(new Uri(path, UriKind.Relative), content, ct);
    }

    public void Dispose() => _dir.Dispose();
}
