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
        error = null;
        var o = new BenchOptions();
        var connectionsGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? value = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                value = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Next()
            {
                if (value is not null)
                {
                    return value;
                }
                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"option '{arg}' needs a value");
                }
                return args[++i];
            }
            int Int(int min, int max)
            {
                var text = Next();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                    ? n
                    : throw new FormatException($"{arg} must be an integer from {min} to {max}, not '{text}'");
            }
            try
            {
                switch (arg)
                {
                    case "--senders" or "--accounts": o = o with { Senders = Int(2, 10_000_000) }; break;
                    case "--duration": o = o with { DurationSeconds = Int(1, 3600) }; break;
                    case "--warmup": o = o with { WarmupSeconds = Int(0, 600) }; break;
                    case "--half-duration": o = o with { HalfDurationSeconds = Int(0, 3600) }; break;
                    case "--max-rate": o = o with { MaxRate = Int(1, 10_000_000) }; break;
                    case "--total": o = o with { Total = Int(1, 100_000_000) }; break;
                    case "--batch": o = o with { Batch = Int(1, 10_000) }; break;
                    case "--connections": o = o with { Connections = Int(1, 1024) }; connectionsGiven = true; break;
                    case "--single": o = o with { Single = true }; break;
                    case "--window": o = o with { Window = Int(1, 10_000_000) }; break;
                    case "--mempool-capacity": o = o with { MempoolCapacity = Int(1, 10_000_000) }; break;
                    case "--verify-seconds": o = o with { VerifySeconds = Int(0, 600) }; break;
                    case "--drain": o = o with { DrainSeconds = Int(1, 3600) }; break;
                    case "--node": o = o with { NodeDll = Next() }; break;
                    case "--json": o = o with { Json = true }; break;
                    case "--keep-data": o = o with { KeepData = true }; break;
                    default: throw new FormatException($"unknown option '{args[i]}' (see --help)");
                }
            }
            catch (FormatException e)
            {
                error = e.Message;
                return null;
            }
        }
        if (o.Single && !connectionsGiven)
        {
            o = o with { Connections = 64 };
        }
        if (o.Window / o.Senders >= 10_000)
        {
            // The node queues at most 10,000 future nonces per sender.
            error = $"--window {o.Window} over {o.Senders} senders puts nonces more than 10,000 ahead: use more senders or a smaller window";
            return null;
        }
        if (o.Window >= o.MempoolCapacity)
        {
            // Only this generator fills the pool: a window below its capacity means no refusal for a full pool.
            o = o with { Window = Math.Max(1, o.MempoolCapacity / 2) };
        }
        return o;
    }
}
