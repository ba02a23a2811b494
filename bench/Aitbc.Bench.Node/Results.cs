using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Aitbc.Bench.Node;

/// <summary>One measured phase: what was committed in its window, and the latency of what was submitted in it.</summary>
internal sealed record PhaseResult(
    string Name,
    double? TargetRate,
    double WindowSeconds,
    long CommittedInWindow,
    double CommittedPerSecond,
    double SliceSeconds,
    double MinSlicePerSecond,
    double MaxSlicePerSecond,
    long SubmittedInWindow,
    int Measured,
    int Uncommitted,
    double P50Seconds,
    double P99Seconds,
    double MaxSeconds,
    int Blocks,
    double MeanBlockTxs,
    double NodeCpuPercent,
    double BenchCpuPercent,
    double OthersCpuPercent,
    double ConsensusLoopPercent,
    double NodeCpuMicrosPerTx,
    double BenchCpuMicrosPerTx,
    double ConsensusLoopMicrosPerTx,
    string MachineLoad,
    bool GeneratorRanOut,
    double MaxLagSeconds);

internal sealed record MemoryRunResult(
    int Accounts, long Total, long Committed, double Seconds, double CommittedPerSecond,
    double P50Seconds, double P99Seconds, long NodeRssAfterBytes, long NodePeakBytes);

internal sealed record MachineInfo(int Cores, string Cpu, string Os, string Runtime);

internal sealed record Goal(string What, string Target, string Measured, bool? Met, string Note);

internal sealed record BenchResult(
    MachineInfo Machine,
    string Mode,
    int Senders,
    int BatchSize,
    int Connections,
    int Window,
    double SigningSeconds,
    long Signed,
    Ed25519Probe.Result Ed25519,
    PhaseResult? Max,
    PhaseResult? Half,
    MemoryRunResult? Memory,
    long NodePeakBytes,
    long NodeRssEndBytes,
    double? TxPerVerification,
    IReadOnlyDictionary<string, long> Refusals,
    long ForeignTxs,
    int IdleSubscribers,
    int IdleSubscribersOpenAtEnd,
    IReadOnlyList<Goal> Goals) : IBenchReport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToTable()
    {
        var sb = new StringBuilder();
        void Line(string label, string value) => sb.Append(CultureInfo.InvariantCulture, $"  {label,-44} {value}\n");
        sb.Append("\nAITBC node benchmark\n");
        Line("machine", $"{Machine.Cores} cores, {Machine.Cpu}; {Machine.Os}; {Machine.Runtime}");
        Line("load", $"{Mode}, {Senders:N0} senders, {(Mode == "single" ? "1 tx" : $"{BatchSize:N0} txs")}/request, {Connections} connections, window {Window:N0}");
        if (IdleSubscribers > 0)
        {
            Line("idle WebSocket subscribers held", $"{IdleSubscribers:N0} (2 subscriptions each; {IdleSubscribersOpenAtEnd:N0} still open at the end)");
        }
        Line("pre-signed", $"{Signed:N0} transfers in {SigningSeconds:F1} s (before the clock)");
        Line("Ed25519 verifications/s, all cores", $"{Ed25519.PerSecond:N0} ({Ed25519.Cores} cores; one core {Ed25519.PerSecondOneCore:N0}/s)");
        foreach (var p in new[] { Max, Half })
        {
            if (p is null)
            {
                continue;
            }
            sb.Append(CultureInfo.InvariantCulture, $"\n  {p.Name}{(p.TargetRate is { } r ? $" (rate-limited to {r:N0} tx/s)" : " (as fast as the node takes them)")}\n");
            Line("committed tx/s (window)", $"{p.CommittedPerSecond:N0}  ({p.CommittedInWindow:N0} in {p.WindowSeconds:F0} s)");
            Line($"  slowest / fastest {p.SliceSeconds:F0} s slice", $"{p.MinSlicePerSecond:N0} / {p.MaxSlicePerSecond:N0} tx/s");
            Line("blocks, mean txs per block", $"{p.Blocks:N0}, {p.MeanBlockTxs:N0}");
            Line("latency submit→commit p50 / p99 / max", $"{Ms(p.P50Seconds)} / {Ms(p.P99Seconds)} / {Ms(p.MaxSeconds)}  ({p.Measured:N0} txs)");
            if (p.Uncommitted > 0)
            {
                Line("  NOT committed by the end of the drain", $"{p.Uncommitted:N0} (left out of the percentiles)");
            }
            Line("CPU while loaded: node / generator / others", $"{p.NodeCpuPercent:F0}% / {p.BenchCpuPercent:F0}% / {p.OthersCpuPercent:F0}% of one core (machine: {Machine.Cores * 100}%)");
            Line("  node's consensus loop busy", $"{p.ConsensusLoopPercent:F0}% of the time (building and committing blocks)");
            Line("CPU per committed tx: node / generator", $"{p.NodeCpuMicrosPerTx:F0} µs / {p.BenchCpuMicrosPerTx:F0} µs (phase start to drained)");
            if (p.TargetRate is null)
            {
                Line("  ESTIMATE, not measured: CPU-bound ceiling", $"{Machine.Cores * 1e6 / (p.NodeCpuMicrosPerTx + p.BenchCpuMicrosPerTx):N0} tx/s = {Machine.Cores} cores ÷ those µs, if both had every core to themselves");
            }
            Line("  consensus loop wall time per tx", $"{p.ConsensusLoopMicrosPerTx:F0} µs (serial part; includes waiting for a core)");
            Line("  machine at the end of the load", p.MachineLoad);
            if (p.GeneratorRanOut)
            {
                Line("  WARNING", "the generator ran out of pre-signed transfers: the rate is a lower bound (raise --max-rate)");
            }
            if (p.TargetRate is not null && p.MaxLagSeconds > 0.5)
            {
                Line("  WARNING", $"the generator fell {p.MaxLagSeconds:F1} s behind its schedule");
            }
        }
        if (Memory is { } m)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n  memory run: {m.Total:N0} transfers among {m.Accounts:N0} accounts\n");
            Line("committed", $"{m.Committed:N0} in {m.Seconds:F1} s ({m.CommittedPerSecond:N0} tx/s)");
            Line("latency p50 / p99", $"{Ms(m.P50Seconds)} / {Ms(m.P99Seconds)}");
            Line("node memory after (VmRSS)", Mb(m.NodeRssAfterBytes));
        }
        sb.Append('\n');
        Line("node peak memory (VmHWM)", Mb(NodePeakBytes));
        Line("node memory at the end (VmRSS)", Mb(NodeRssEndBytes));
        if (TxPerVerification is { } ratio)
        {
            Line("committed tx/s ÷ Ed25519 verifications/s", ratio.ToString("F3", CultureInfo.InvariantCulture));
        }
        if (Refusals.Count > 0)
        {
            Line("refusals", string.Join(", ", Refusals.Select(kv => $"{kv.Key} {kv.Value:N0}")));
        }
        if (ForeignTxs > 0)
        {
            Line("committed txs not from this run", ForeignTxs.ToString("N0", CultureInfo.InvariantCulture));
        }
        sb.Append("\n  goals (the issue's, for 2 cores)\n");
        foreach (var g in Goals)
        {
            var verdict = g.Met switch { true => "met", false => "NOT met", null => "not measured" };
            sb.Append(CultureInfo.InvariantCulture, $"  {g.What,-44} {g.Target,-10} {g.Measured,-14} {verdict}{(g.Note.Length > 0 ? $"  ({g.Note})" : "")}\n");
        }
        if (Machine.Cores <= 2)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n  Note: the generator and the node share this machine's {Machine.Cores} cores; the generator's CPU share above is taken from the node.\n");
        }
        return sb.ToString();
    }

    public static string Ms(double seconds) => double.IsNaN(seconds) ? "n/a" : $"{(seconds * 1000).ToString("N0", CultureInfo.InvariantCulture)} ms";

    public static string Mb(long bytes) => $"{(bytes / 1048576.0).ToString("N0", CultureInfo.InvariantCulture)} MiB";
}
