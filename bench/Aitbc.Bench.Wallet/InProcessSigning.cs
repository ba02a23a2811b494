using System.Diagnostics;
using Aitbc.Core;
using Aitbc.Wallet.Signing;

namespace Aitbc.Bench.Wallet;

/// <summary>
/// The layers under the API, measured in the same run to show where the time goes: raw NSec Ed25519 signing,
/// <see cref="Transaction.Sign"/> (canonical JSON + SHA-256 + Ed25519), and <see cref="WalletSigner.SignAsync"/>
/// (policy, daily window, audit entry group-committed to SQLite) without HTTP.
/// </summary>
internal static class InProcessSigning
{
    /// <summary>A rate, and this process's CPU time per operation over the same window.</summary>
    public sealed record Rate(long Count, double Seconds, int Workers, double CpuUsPerOp)
    {
        public double PerSecond => Count / Seconds;
    }

    /// <summary><paramref name="op"/> on <paramref name="workers"/> dedicated threads, released together, for <paramref name="duration"/>.</summary>
    public static Rate OnThreads(int workers, TimeSpan duration, Func<int, Action> op)
    {
        using var go = new ManualResetEventSlim();
        long total = 0;
        long stopAt = 0;
        var threads = Enumerable.Range(0, workers).Select(w =>
        {
            var run = op(w);
            return new Thread(() =>
            {
                go.Wait();
                long count = 0;
                while ((count & 15) != 0 || Stopwatch.GetTimestamp() < Volatile.Read(ref stopAt))
                {
                    run();
                    count++;
                }
                Interlocked.Add(ref total, count);
            }) { IsBackground = true };
        }).ToList();
        threads.ForEach(t => t.Start());
        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref stopAt, start + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        go.Set();
        threads.ForEach(t => t.Join());
        return new Rate(total, Stopwatch.GetElapsedTime(start).TotalSeconds, workers, (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / total);
    }

    /// <summary>Ed25519 signatures over real transaction signing bytes, on one core and on all.</summary>
    public static (Rate One, Rate All) RawNSec(Ed25519Key key, byte[] message, TimeSpan duration)
    {
        Func<int, Action> sign = _ =>
        {
            var signature = new byte[Ed25519Key.SignatureSize];
            return () => key.Sign(message, signature);
        };
        OnThreads(1, TimeSpan.FromMilliseconds(200), sign); // warm-up
        return (OnThreads(1, duration / 3, sign), OnThreads(Environment.ProcessorCount, duration, sign));
    }

    /// <summary>Whole transactions: canonical signing bytes, the id's SHA-256 and the signature, on all cores.</summary>
    public static Rate TransactionSign(Ed25519Key key, string chainId, Address to, TimeSpan duration) =>
        OnThreads(Environment.ProcessorCount, duration, w =>
        {
            var nonce = (long)w << 32;
            return () => Transaction.Sign(key, chainId, nonce++, new Amount(1_000), new TransferBody(to, new Amount(1)));
        });

    /// <summary>The daemon's signer without HTTP: <paramref name="concurrency"/> callers in a closed loop.</summary>
    public static async Task<Rate> SignerAsync(WalletSigner signer, string wallet, Address to, int concurrency, TimeSpan duration, CancellationToken ct)
    {
        long stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        var counts = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            long count = 0;
            var nonce = (long)w << 32;
            var body = new TransferBody(to, new Amount(1));
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var (tx, error) = await signer.SignAsync(wallet, body, nonce++, new Amount(1_000));
                if (tx is null)
                {
                    throw new InvalidOperationException($"the signer refused: {error}");
                }
                count++;
            }
            return count;
        }, ct)));
        var total = counts.Sum();
        return new Rate(total, Stopwatch.GetElapsedTime(start).TotalSeconds, concurrency, (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / total);
    }
}
