using System.Diagnostics;
using Aitbc.Core;

namespace Aitbc.Bench.Node;

/// <summary>
/// This machine's Ed25519 verification rate on every core: <see cref="Ed25519Key.Verify"/> (the call
/// the node makes at admission) over real pre-signed transfers, one worker per core, for a few seconds.
/// </summary>
internal static class Ed25519Probe
{
    public sealed record Result(double PerSecond, double PerSecondOneCore, int Cores, long Verifications, double Seconds);

    public static Result Measure(IReadOnlyList<(Address Signer, byte[] Message, byte[] Signature)> samples, TimeSpan duration)
    {
        if (samples.Count == 0)
        {
            throw new InvalidOperationException("no signed transfers to verify");
        }
        // The pre-signing left garbage behind: collect it now rather than during the measurement.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        Run(samples, 1, TimeSpan.FromMilliseconds(200)); // warm-up
        // One core alone first (a short run), then all cores together.
        var one = Run(samples, 1, duration / 3);
        var all = Run(samples, Environment.ProcessorCount, duration);
        return new Result(all.Count / all.Seconds, one.Count / one.Seconds, Environment.ProcessorCount, all.Count, all.Seconds);
    }

    private static (long Count, double Seconds) Run(IReadOnlyList<(Address Signer, byte[] Message, byte[] Signature)> samples, int workers, TimeSpan duration)
    {
        // Dedicated threads released together, so that every worker runs for the whole measurement.
        using var go = new ManualResetEventSlim();
        long total = 0;
        long stopAt = 0;
        var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            go.Wait();
            long count = 0;
            var i = w * 7919 % samples.Count;
            while ((count & 63) != 0 || Stopwatch.GetTimestamp() < Volatile.Read(ref stopAt))
            {
                var (signer, message, signature) = samples[i];
                if (!Ed25519Key.Verify(signer, message, signature))
                {
                    throw new InvalidOperationException("a pre-signed transfer does not verify");
                }
                count++;
                i = i + 1 == samples.Count ? 0 : i + 1;
            }
            Interlocked.Add(ref total, count);
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref stopAt, start + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        go.Set();
        threads.ForEach(t => t.Join());
        return (total, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}
