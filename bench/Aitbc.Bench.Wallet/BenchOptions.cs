using System.Globalization;

namespace Aitbc.Bench.Wallet;

/// <summary>What to run and for how long.</summary>
internal sealed record BenchOptions
{
    public double Seconds { get; init; } = 10;
    public double WarmupSeconds { get; init; } = 5;
    public int Connections { get; init; } = 64;
    public int Unlocks { get; init; } = 5;
    public double RawSeconds { get; init; } = 3;
    public bool Json { get; init; }

    public const string Usage = """
        Aitbc.Bench.Wallet — signatures per second through the wallet daemon's API

        Starts a real node and a real wallet daemon in this process (loopback, temporary files), times
        unlocks at the default Argon2id cost, then loads POST /v1/wallets/{name}/sign (nonce and fee given,
        so no node round trip) over many HTTP/1.1 connections, and measures raw NSec Ed25519 signing on
        every core in the same run.

        Usage: dotnet run -c Release --project bench/Aitbc.Bench.Wallet -- [options]

          --seconds S        measured seconds of sign load (default 10)
          --warmup S         seconds of load before the measurement starts, for the JIT's tiering to settle (default 5)
          --connections N    concurrent HTTP/1.1 connections, one request in flight on each (default 64)
          --unlocks N        unlocks timed at the default KDF cost (default 5)
          --raw-seconds S    seconds of each in-process signing measurement (default 3)
          --json             print the results as JSON on stdout (the table goes to stderr)
        """;

    public static BenchOptions? Parse(string[] args, out string? error) =>
        BenchArgs.Parse(args, new BenchOptions(), static (a, o) => a.Flag switch
        {
            "--seconds" => o with { Seconds = a.Positive() },
            "--warmup" => o with { WarmupSeconds = a.Positive() },
            "--connections" => o with { Connections = a.Int(1, 4096) },
            "--unlocks" => o with { Unlocks = a.Int(1, 1000) },
            "--raw-seconds" => o with { RawSeconds = a.Positive() },
            "--json" => o with { Json = true },
            _ => throw a.Unknown(),
        }, out error);
}
