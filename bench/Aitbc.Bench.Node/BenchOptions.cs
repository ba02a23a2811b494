using System.Globalization;

namespace Aitbc.Bench.Node;

/// <summary>What to run: the throughput and latency phases (default), or the memory run (<c>--total</c>).</summary>
internal sealed record BenchOptions
{
    public int Senders { get; init; } = 20_000;
    public int DurationSeconds { get; init; } = 60;
    public int WarmupSeconds { get; init; } = 5;
    public int HalfDurationSeconds { get; init; } = -1;
    public int Batch { get; init; } = 2_000;
    public int Connections { get; init; } = 4;
    public bool Single { get; init; }
    public int MaxRate { get; init; } = 20_000;
    public long Total { get; init; }
    public int Window { get; init; } = 100_000;
    public int MempoolCapacity { get; init; } = 200_000;
    public double VerifySeconds { get; init; } = 3;
    public int DrainSeconds { get; init; } = 60;
    public string? NodeDll { get; init; }
    public bool Json { get; init; }
    public bool KeepData { get; init; }
    public int IdleSubscribers { get; init; }

    /// <summary>The node's default room for escrow settles and refunds, less where the pool is small; transfers cannot use it.</summary>
    public int EscrowReserve => Math.Min(10_000, MempoolCapacity / 10);

    /// <summary>The memory run: <c>--total</c> transfers among <c>--accounts</c>, then the node's memory.</summary>
    public bool MemoryRun => Total > 0;

    public int HalfSeconds => HalfDurationSeconds >= 0 ? HalfDurationSeconds : DurationSeconds;

    public const string Usage = """
        aitbc-bench-node — load generator and benchmark for the Brother Chain node

        Starts the real node (aitbc-node.dll, Release build) as a separate process on loopback with a
        generated genesis that funds many senders, pre-signs transfers before the clock starts, submits
        them over the RPC and measures what the node commits.

        Usage: aitbc-bench-node [options]

        Throughput and latency (default):
          --senders N          funded accounts that send (and receive) transfers (default 20000)
          --duration S         measured seconds at maximum load (default 60)
          --warmup S           seconds of load before each measurement window starts (default 5)
          --half-duration S    measured seconds of the second phase at half the measured rate (default: --duration; 0 skips it)
          --max-rate N         transfers/s pre-signed for phase 1: duration x rate are signed up front (default 20000)
        Memory:
          --accounts N         same as --senders
          --total N            instead of the phases: submit N transfers among the accounts as fast as the
                               node takes them, wait until all are committed, report the node's memory
        Submission:
          --batch N            transactions per POST /v1/txs/batch (default 2000, at most 10000)
          --connections N      concurrent HTTP connections (default 4; 64 with --single)
          --single             POST /v1/txs, one transaction per request
          --window N           most transactions submitted but not yet committed (default 100000)
          --mempool-capacity N passed to the node (default 200000)
          --idle-subscribers N hold N WebSocket connections open during the run, each subscribed to an address
                               and a job no transfer touches (default 0), to show what subscribers cost
        Other:
          --verify-seconds S   length of the Ed25519 verification measurement (default 3)
          --drain S            longest wait for submitted transactions to commit after a phase (default 60)
          --node PATH          aitbc-node.dll to start (default: src/Aitbc.Node.Host/bin/<config>/net10.0/ in this checkout)
          --json               print the results as JSON on stdout (the table goes to stderr)
          --keep-data          keep the temporary data directory
          -h, --help           this help

        Build first: dotnet build -c Release bench/Aitbc.Bench.Node (this also builds aitbc-node).
        """;

    public static BenchOptions? Parse(string[] args, out string? error)
    {
        var connectionsGiven = false;
        var o = BenchArgs.Parse(args, new BenchOptions(), (a, o) =>
        {
            connectionsGiven |= a.Flag == "--connections";
            return a.Flag switch
            {
                "--senders" or "--accounts" => o with { Senders = a.Int(2, 10_000_000) },
                "--duration" => o with { DurationSeconds = a.Int(1, 3600) },
                "--warmup" => o with { WarmupSeconds = a.Int(0, 600) },
                "--half-duration" => o with { HalfDurationSeconds = a.Int(0, 3600) },
                "--max-rate" => o with { MaxRate = a.Int(1, 10_000_000) },
                "--total" => o with { Total = a.Int(1, 100_000_000) },
                "--batch" => o with { Batch = a.Int(1, 10_000) },
                "--connections" => o with { Connections = a.Int(1, 1024) },
                "--single" => o with { Single = true },
                "--window" => o with { Window = a.Int(1, 10_000_000) },
                "--mempool-capacity" => o with { MempoolCapacity = a.Int(1, 10_000_000) },
                "--verify-seconds" => o with { VerifySeconds = a.Int(0, 600) },
                "--drain" => o with { DrainSeconds = a.Int(1, 3600) },
                "--node" => o with { NodeDll = a.Value() },
                "--json" => o with { Json = true },
                "--keep-data" => o with { KeepData = true },
                "--idle-subscribers" => o with { IdleSubscribers = a.Int(0, 100_000) },
                _ => throw a.Unknown(),
            };
        }, out error);
        if (o is null)
        {
            return null;
        }
        if (o.Single && !connectionsGiven)
        {
            o = o with { Connections = 64 };
        }
        if (o.Window / o.Senders >= 4_096)
        {
            // The node queues at most 4,096 transactions per sender.
            error = $"--window {o.Window} over {o.Senders} senders puts more than 4,096 transactions of one sender in the pool: use more senders or a smaller window";
            return null;
        }
        if (o.Window >= o.MempoolCapacity - o.EscrowReserve)
        {
            // Only this generator fills the pool: a window below its capacity means no refusal for a full pool.
            o = o with { Window = Math.Max(1, (o.MempoolCapacity - o.EscrowReserve) / 2) };
        }
        return o;
    }
}
