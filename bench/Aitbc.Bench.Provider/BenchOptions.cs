using System.Globalization;

namespace Aitbc.Bench.Provider;

/// <summary>What to run and how much.</summary>
internal sealed record BenchOptions
{
    public int Jobs { get; init; } = 3_000;
    public int Concurrency { get; init; } = 64;
    public int LatencyJobs { get; init; } = 500;
    public int WarmupJobs { get; init; } = 300;
    public int BlockMs { get; init; } = 20;
    public int Words { get; init; } = 16;
    public bool Json { get; init; }

    public const string Usage = """
        Aitbc.Bench.Provider — paid jobs per second through the provider daemon with the development model
        (aitbc/dev-echo), and the latency the daemon adds to a job over calling the backend directly

        Starts a real node, coordinator and provider daemon in this process (loopback, temporary files),
        locks one escrow per job beforehand, then sends every job to the daemon's own API (POST /v1/jobs,
        signed by the escrow's client), which checks the escrow on the chain, runs the model, signs the
        receipt and waits for its escrow.settle to commit before it answers.

        Usage: dotnet run -c Release --project bench/Aitbc.Bench.Provider -- [options]

          --jobs N           jobs in the throughput phase (default 3000)
          --concurrency N    jobs in flight in the throughput phase, and the daemon's job slots (default 64)
          --latency-jobs N   jobs in the latency phase, one at a time (default 500)
          --warmup N         jobs before each phase, not measured, for the JIT's tiering to settle (default 300)
          --block-ms N       the chain's minimum block interval in ms (default 20)
          --words N          words in each job's prompt (dev-echo answers them reversed; default 16)
          --json             print the results as JSON on stdout (the table goes to stderr)
        """;

    public static BenchOptions? Parse(string[] args, out string? error) =>
        BenchArgs.Parse(args, new BenchOptions(), static (a, o) => a.Flag switch
        {
            "--jobs" => o with { Jobs = a.Int(1, 10_000_000) },
            "--concurrency" => o with { Concurrency = a.Int(1, 1024) },
            "--latency-jobs" => o with { LatencyJobs = a.Int(1, 10_000_000) },
            "--warmup" => o with { WarmupJobs = a.Int(1, 10_000_000) },
            "--block-ms" => o with { BlockMs = a.Int(1, 60_000) },
            "--words" => o with { Words = a.Int(1, 10_000) },
            "--json" => o with { Json = true },
            _ => throw a.Unknown(),
        }, out error);
}
