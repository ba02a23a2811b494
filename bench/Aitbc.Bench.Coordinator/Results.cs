using Aitbc.Coordinator;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Aitbc.Bench.Coordinator;

/// <summary>One database's figures, with the load average (1, 5, 15 min) before and after.</summary>
internal sealed record DatabaseFigures(DatabaseKind Database, string LoadBefore, string LoadAfter, SubmitFigures Submit, DispatchFigures Dispatch);

/// <summary>The figures of one run.</summary>
internal sealed record BenchResult(BenchOptions Options, int Cores, string LoadAtStart, string LoadAtEnd, IReadOnlyList<DatabaseFigures> Databases,
    SubmitFigures RawKestrel) : IBenchReport
{
    public const double GoalSubmissionsPerSecond = 3_000;
    public const double GoalSubmitP99Ms = 50;
    public const double GoalDispatchP99Ms = 20;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToTable()
    {
        static string Ms(double v) => double.IsNaN(v) ? "n/a" : v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";
        var o = Options;
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"Coordinator, {Cores} cores; {o.Connections} connections (one client key each), {o.Providers} providers of {o.Models} models; load average {LoadAtStart} at the start, {LoadAtEnd} at the end");
        sb.AppendLine();
        sb.AppendLine("| database | signed POST /v1/jobs | of raw Kestrel | p50 | p90 | p99 | max | CPU per submission | refused | dispatch p50 | p90 | p99 | max | from block p50 / p99 | load avg before → after |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var d in Databases)
        {
            var s = d.Submit;
            var x = d.Dispatch;
            var refused = s.Refused.Count == 0 ? "0" : string.Join(", ", s.Refused.Select(r => $"{r.Key} ×{r.Value}"));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {d.Database.ToString().ToLowerInvariant()} | **{s.PerSecond:0}/s**{(s.RanOut ? " (ran out of bodies: a lower bound)" : "")} | {s.PerSecond / RawKestrel.PerSecond:0.00} | {Ms(s.P50Ms)} | {Ms(s.P90Ms)} | **{Ms(s.P99Ms)}** | {Ms(s.MaxMs)} | {s.CpuUsPerSubmission:0} µs | {refused} | {Ms(x.P50Ms)} | {Ms(x.P90Ms)} | **{Ms(x.P99Ms)}** | {Ms(x.MaxMs)} | {Ms(x.FromBlockP50Ms)} / {Ms(x.FromBlockP99Ms)} | {d.LoadBefore} → {d.LoadAfter} |");
        }
        var k = RawKestrel;
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"| raw Kestrel | **{k.PerSecond:0}/s**{(k.RanOut ? " (ran out of bodies: a lower bound)" : "")} | 1.00 | {Ms(k.P50Ms)} | {Ms(k.P90Ms)} | **{Ms(k.P99Ms)}** | {Ms(k.MaxMs)} | {k.CpuUsPerSubmission:0} µs | {(k.Refused.Count == 0 ? "0" : string.Join(", ", k.Refused.Select(r => $"{r.Key} ×{r.Value}")))} | | | | | | |");
        sb.AppendLine();
        foreach (var d in Databases)
        {
            var s = d.Submit;
            var x = d.Dispatch;
            var submitMet = s.PerSecond >= GoalSubmissionsPerSecond && s.P99Ms < GoalSubmitP99Ms;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{d.Database.ToString().ToLowerInvariant()}: {s.Created} jobs created in {s.Seconds} s; goal ≥ {GoalSubmissionsPerSecond:0}/s with p99 < {GoalSubmitP99Ms:0} ms{(d.Database == DatabaseKind.Sqlite ? "" : " (stated for SQLite)")}: {(submitMet ? "met" : "NOT met")}. " +
                $"Dispatch: {x.Jobs} jobs ({x.Missing} missing), {x.EscrowsPerBlock:0.0} escrows per block; goal p99 < {GoalDispatchP99Ms:0} ms: {(x.P99Ms < GoalDispatchP99Ms && x.Missing == 0 ? "met" : "NOT met")}.");
        }
        sb.AppendLine();
        sb.AppendLine("Method. Submissions: a closed loop on every connection, each request signed at send time by its client's key (SigningHandler);");
        sb.AppendLine("latency from the request's start to its 201 answer read in full, over the measured window after the warm-up; CPU per submission is");
        sb.AppendLine("this process's CPU time over the window (client, coordinator, the idle node; PostgreSQL's own processes not included) per job.");
        sb.AppendLine("Dispatch: jobs submitted first, then their escrow.lock sent to the node at a steady pace. Each job is timed from its escrow event");
        sb.AppendLine("arriving at a second subscriber of the node's /v1/ws escrow stream (the stream and subscription the coordinator's ChainFollower");
        sb.AppendLine("uses, served by the node to each subscriber in turn) to the job message arriving on its provider's dispatch WebSocket.");
        sb.AppendLine("\"From block\" starts at the announcement of the block holding the lock (blocks channel), which the node sends just before.");
        sb.AppendLine("Raw Kestrel: the same signed requests from the same client code over as many connections to a bare Kestrel endpoint that reads");
        sb.AppendLine("the body and answers a constant 201 as long as the coordinator's answer (no signature check, no matching, no database): the");
        sb.AppendLine("ceiling of this load on this machine, measured in the same run; \"of raw Kestrel\" is the coordinator's rate over it.");
        sb.AppendLine("The process holds the node, the coordinator, the providers and the load generator; they share the machine's cores.");
        return sb.ToString();
    }
}
