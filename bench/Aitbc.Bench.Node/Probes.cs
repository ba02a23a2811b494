using System.Diagnostics;
using System.Globalization;

namespace Aitbc.Bench.Node;

/// <summary>
/// A snapshot of where CPU time went: the node's and this process's CPU time, the whole machine's
/// busy and total time (<c>/proc/stat</c>, so that other processes' share shows), and the node's own
/// count of seconds its consensus loop spent building and committing blocks (<c>/metrics</c>).
/// </summary>
internal sealed record CpuSnapshot(long At, TimeSpan Node, TimeSpan Bench, long MachineBusy, long MachineTotal, double LoopSeconds, long NodeCommitted)
{
    public static async Task<CpuSnapshot> TakeAsync(NodeProcess node, HttpClient http, CancellationToken ct)
    {
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        var (busy, total) = MachineTicks();
        return new CpuSnapshot(Stopwatch.GetTimestamp(), node.CpuTime, Process.GetCurrentProcess().TotalProcessorTime, busy, total,
            Metric(metrics, "aitbc_block_build_commit_seconds_total"), (long)Metric(metrics, "aitbc_txs_committed_total"));
    }

    /// <summary>CPU use between two snapshots, in percent of one core.</summary>
    public static (double Node, double Bench, double Others, double Loop) Percent(CpuSnapshot a, CpuSnapshot b)
    {
        var wall = Stopwatch.GetElapsedTime(a.At, b.At).TotalSeconds;
        var node = (b.Node - a.Node).TotalSeconds / wall * 100;
        var bench = (b.Bench - a.Bench).TotalSeconds / wall * 100;
        var machine = b.MachineTotal > a.MachineTotal
            ? (double)(b.MachineBusy - a.MachineBusy) / (b.MachineTotal - a.MachineTotal) * Environment.ProcessorCount * 100
            : double.NaN;
        return (node, bench, Math.Max(0, machine - node - bench), (b.LoopSeconds - a.LoopSeconds) / wall * 100);
    }

    private static (long Busy, long Total) MachineTicks()
    {
        if (!File.Exists("/proc/stat"))
        {
            return (0, 0);
        }
        // cpu  user nice system idle iowait irq softirq steal ...
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var total = f.Take(8).Sum();
        return (total - f[3] - f[4], total);
    }

    private static double Metric(string text, string name)
    {
        foreach (var line in text.Split('\n'))
        {
            // "name value" or "name{labels} value" (the exporter labels each series with its meter).
            if (line.StartsWith(name + " ", StringComparison.Ordinal) || line.StartsWith(name + "{", StringComparison.Ordinal))
            {
                var value = line[(line.IndexOf('}', StringComparison.Ordinal) is var close and >= 0 ? close + 1 : name.Length)..].Trim().Split(' ')[0];
                return double.Parse(value, CultureInfo.InvariantCulture);
            }
        }
        return double.NaN;
    }

    /// <summary>The machine's load average and CPU pressure, to show how busy it was with other work.</summary>
    public static string MachineLoad()
    {
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        var pressure = File.Exists("/proc/pressure/cpu") ? File.ReadLines("/proc/pressure/cpu").First().Split(' ').Skip(1).FirstOrDefault() ?? "" : "";
        return $"load average {load}{(pressure.Length > 0 ? $", CPU pressure {pressure}" : "")}";
    }
}
