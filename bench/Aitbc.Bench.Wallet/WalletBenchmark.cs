using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Client;
using Aitbc.Wallet;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Signing;
using Microsoft.Data.Sqlite;

namespace Aitbc.Bench.Wallet;

/// <summary>All figures of one run.</summary>
internal sealed record WalletBenchResult(
    int Cores, int Connections, double UnlockMeanMs, double UnlockMinMs, double UnlockMaxMs, KdfCost Kdf,
    SignLoad.Result Api, SignLoad.Result Floor, InProcessSigning.Rate RawOne, InProcessSigning.Rate RawAll, InProcessSigning.Rate TxSign,
    InProcessSigning.Rate Signer, long AuditEntries, double AuditEntriesPerCommit) : IBenchReport
{
    /// <summary>Signatures per second through the API over raw NSec signing on all cores, both measured in this run.</summary>
    public double Ratio => Api.PerSecond / RawAll.PerSecond;

    /// <summary>The same comparison in CPU time per signature, which what else runs on the machine does not move.</summary>
    public double CpuRatio => RawOne.CpuUsPerOp / Api.CpuUsPerOp;

    public string ToTable()
    {
        var i = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.AppendLine(i, $"Wallet daemon sign benchmark ({Cores} cores, {Connections} HTTP/1.1 connections)");
        b.AppendLine(i, $"  unlock (Argon2id {Kdf.Passes} passes, {Kdf.MemoryKiB / 1024} MiB)  mean {UnlockMeanMs,8:F1} ms   min {UnlockMinMs:F1}   max {UnlockMaxMs:F1}");
        b.AppendLine(i, $"                                        rate           CPU per op");
        b.AppendLine(i, $"  POST /sign                          {Api.PerSecond,8:F0} sign/s   {Api.CpuUsPerOp,7:F1} us   ({Api.Signed} in {Api.Seconds:F1} s, {Api.Errors} errors)");
        b.AppendLine(i, $"    latency                           p50 {Api.P50Ms:F2} ms   p90 {Api.P90Ms:F2}   p99 {Api.P99Ms:F2}   p99.9 {Api.P999Ms:F2}   max {Api.MaxMs:F1}");
        b.AppendLine(i, $"  HTTP floor: GET /health/live        {Floor.PerSecond,8:F0} req/s    {Floor.CpuUsPerOp,7:F1} us   (p50 {Floor.P50Ms:F2} ms, p99 {Floor.P99Ms:F2})");
        b.AppendLine(i, $"  WalletSigner.SignAsync, no HTTP     {Signer.PerSecond,8:F0} sign/s   {Signer.CpuUsPerOp,7:F1} us   (policy + audit group commit)");
        b.AppendLine(i, $"  Transaction.Sign, all cores         {TxSign.PerSecond,8:F0} sign/s   {TxSign.CpuUsPerOp,7:F1} us   (JCS + SHA-256 + Ed25519)");
        b.AppendLine(i, $"  raw NSec Ed25519Key.Sign, all cores {RawAll.PerSecond,8:F0} sign/s   {RawAll.CpuUsPerOp,7:F1} us   (one core {RawOne.PerSecond:F0}/s, {RawOne.CpuUsPerOp:F1} us)");
        b.AppendLine(i, $"  API / raw                           {Ratio,8:P1} by rate, {CpuRatio:P1} by CPU time");
        b.AppendLine(i, $"  audit log                           {AuditEntries} entries, >= {AuditEntriesPerCommit:F1} per synced commit");
        if (Api.FirstError is not null)
        {
            b.AppendLine(i, $"  first error: {Api.FirstError}");
        }
        return b.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        cores = Cores,
        connections = Connections,
        unlockMeanMs = UnlockMeanMs,
        unlockMinMs = UnlockMinMs,
        unlockMaxMs = UnlockMaxMs,
        kdf = new { passes = Kdf.Passes, memoryKiB = Kdf.MemoryKiB },
        apiSignPerSecond = Api.PerSecond,
        apiCpuUsPerSign = Api.CpuUsPerOp,
        apiSigned = Api.Signed,
        apiErrors = Api.Errors,
        apiSeconds = Api.Seconds,
        p50Ms = Api.P50Ms,
        p90Ms = Api.P90Ms,
        p99Ms = Api.P99Ms,
        p999Ms = Api.P999Ms,
        maxMs = Api.MaxMs,
        httpFloorPerSecond = Floor.PerSecond,
        httpFloorCpuUs = Floor.CpuUsPerOp,
        signerPerSecond = Signer.PerSecond,
        signerCpuUs = Signer.CpuUsPerOp,
        transactionSignPerSecond = TxSign.PerSecond,
        transactionSignCpuUs = TxSign.CpuUsPerOp,
        rawNsecSignPerSecond = RawAll.PerSecond,
        rawNsecSignPerSecondOneCore = RawOne.PerSecond,
        rawNsecCpuUs = RawOne.CpuUsPerOp,
        ratio = Ratio,
        cpuRatio = CpuRatio,
        auditEntries = AuditEntries,
        auditEntriesPerCommit = AuditEntriesPerCommit,
    });
}

/// <summary>Starts a real node and wallet daemon in this process, times unlocks, loads the sign endpoint, measures the layers under it.</summary>
internal sealed class WalletBenchmark(BenchOptions options, TextWriter log)
{
    private const string ChainId = "aitbc-bench-wallet";
    private const string Password = "bench password, long enough";

    public async Task<WalletBenchResult> RunAsync(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"aitbc-bench-wallet-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            return await RunInAsync(dir, ct);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private async Task<WalletBenchResult> RunInAsync(string dir, CancellationToken ct)
    {
        using var validator = Ed25519Key.Generate();
        using var faucet = Ed25519Key.Generate();
        var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [new GenesisValidator(validator.Address, 1, "v")],
            [new GenesisAllocation(faucet.Address, Amount.FromAit(1_000_000))], new ChainParameters { Faucet = faucet.Address, MinBlockIntervalMs = 20 });
        log.WriteLine("starting a node and a wallet daemon (default KDF cost) on loopback ...");
        await using var node = await NodeServer.StartAsync(new NodeOptions { DataDir = Path.Combine(dir, "node"), RpcPort = 0, FaucetCooldownSeconds = 0, FaucetPerIpPerMinute = 100_000, FaucetPerSecond = 10_000 },
            genesis, validator, faucet, logging: _ => { }, ct: ct);
        var walletOptions = new WalletOptions { Keystore = Path.Combine(dir, "wallet", "keystore.db"), Port = 0, Node = node.RpcUri.ToString() };
        await using var daemon = await WalletServer.StartAsync(walletOptions, logging: _ => { }, ct);
        using var http = Client(daemon, options.Connections);

        // Create, then time unlocks at the default Argon2id cost (through the API, as a user would).
        using (var created = await http.PostAsJsonAsync(new Uri("/v1/wallets", UriKind.Relative), new { name = "bench", password = Password }, ct))
        {
            await Expect(created, HttpStatusCode.Created, ct);
        }
        var address = daemon.Keystore.Get("bench")!.Address;
        var unlocks = new List<double>();
        for (var i = 0; i < options.Unlocks; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var unlocked = await http.PostAsJsonAsync(new Uri("/v1/wallets/bench/unlock", UriKind.Relative), new { password = Password, seconds = 3600 }, ct);
            await Expect(unlocked, HttpStatusCode.OK, ct);
            unlocks.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        log.WriteLine($"unlock: mean {unlocks.Average():F1} ms over {unlocks.Count}");

        using var recipientKey = Ed25519Key.Generate();
        var to = recipientKey.Address;
        log.WriteLine($"POST /sign with {options.Connections} connections: {options.WarmupSeconds} s warm-up, {options.Seconds} s measured ...");
        var auditBefore = AuditStats(walletOptions.Keystore).Entries;
        var api = await SignLoad.RunAsync(http, "bench", to, options.Connections,
            TimeSpan.FromSeconds(options.WarmupSeconds), TimeSpan.FromSeconds(options.Seconds), ct);
        foreach (var sample in api.Samples)
        {
            if (!Transaction.TryParse(sample, out var tx, out var error) || !tx.VerifySignature() || tx.From != address)
            {
                throw new InvalidOperationException($"the daemon answered a transaction that does not verify: {error}");
            }
        }
        var audit = AuditStats(walletOptions.Keystore);
        log.WriteLine($"POST /sign: {api.PerSecond:F0}/s, p50 {api.P50Ms:F2} ms, p99 {api.P99Ms:F2} ms");

        // The layers under the API, in the same run and process.
        var floor = await SignLoad.FloorAsync(http, options.Connections, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(options.RawSeconds), ct);
        log.WriteLine($"HTTP floor (GET /health/live): {floor.PerSecond:F0}/s");
        var raw = Raw(to);
        var signer = await SignerAsync(dir, node, to, ct);
        log.WriteLine($"signer without HTTP: {signer.PerSecond:F0}/s");
        var txSign = InProcessSigning.TransactionSign(recipientKey, ChainId, address, TimeSpan.FromSeconds(options.RawSeconds));
        log.WriteLine($"raw NSec: {raw.All.PerSecond:F0}/s on {raw.All.Workers} cores; Transaction.Sign {txSign.PerSecond:F0}/s");

        return new WalletBenchResult(Environment.ProcessorCount, options.Connections, unlocks.Average(), unlocks.Min(), unlocks.Max(),
            KdfCost.Default, api, floor, raw.One, raw.All, txSign, signer, audit.Entries - auditBefore, audit.PerCommit);
    }

    private (InProcessSigning.Rate One, InProcessSigning.Rate All) Raw(Address to)
    {
        // The bytes the daemon signs for one of the load's transfers.
        using var key = Ed25519Key.Generate();
        var message = Transaction.Sign(key, ChainId, 1L << 40, new Amount(1_000), new TransferBody(to, new Amount(1))).SigningBytes();
        return InProcessSigning.RawNSec(key, message, TimeSpan.FromSeconds(options.RawSeconds));
    }

    private async Task<InProcessSigning.Rate> SignerAsync(string dir, NodeServer node, Address to, CancellationToken ct)
    {
        var keystore = new WalletKeystore(Path.Combine(dir, "signer", "keystore.db"), KdfCost.Fast);
        await using var audit = new AuditLog(keystore, TimeProvider.System);
        using var nodeHttp = new HttpClient { BaseAddress = node.RpcUri };
        using var signer = new WalletSigner(keystore, audit, new NodeClient(nodeHttp), ChainId, TimeProvider.System);
        var (_, _, error) = keystore.Create("bench", Password);
        var unlockError = error is null ? signer.Unlock("bench", Password, TimeSpan.FromHours(1)).Error : null;
        if ((error ?? unlockError) is { } failed)
        {
            throw new InvalidOperationException($"the in-process signer could not be set up: {failed.Message}");
        }
        await InProcessSigning.SignerAsync(signer, "bench", to, options.Connections, TimeSpan.FromMilliseconds(500), ct); // warm-up
        return await InProcessSigning.SignerAsync(signer, "bench", to, options.Connections, TimeSpan.FromSeconds(options.RawSeconds), ct);
    }

    /// <summary>Audit entries, and entries per distinct commit time (a batch shares one time; a lower bound on the batch size).</summary>
    private static (long Entries, double PerCommit) AuditStats(string keystore)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = keystore, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*), count(DISTINCT time) FROM audit";
        using var r = cmd.ExecuteReader();
        r.Read();
        var (entries, times) = (r.GetInt64(0), r.GetInt64(1));
        return (entries, times == 0 ? 0 : (double)entries / times);
    }

    private static HttpClient Client(WalletServer daemon, int connections)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        var http = new HttpClient(handler)
        {
            BaseAddress = daemon.Uri,
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", CookieAuth.Read(daemon.CookiePath));
        return http;
    }

    private static async Task Expect(HttpResponseMessage response, HttpStatusCode status, CancellationToken ct)
    {
        if (response.StatusCode != status)
        {
            throw new InvalidOperationException($"expected {(int)status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        }
    }
}
