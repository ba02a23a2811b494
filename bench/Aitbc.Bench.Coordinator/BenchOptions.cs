using Aitbc.Coordinator;
using System.Globalization;

namespace Aitbc.Bench.Coordinator;

/// <summary>What to run and how much.</summary>
internal sealed record BenchOptions
{
    public IReadOnlyList<DatabaseKind> Databases { get; init; } = [DatabaseKind.Sqlite, DatabaseKind.Postgres];
    public int Seconds { get; init; } = 10;
    public int Warmup { get; init; } = 8;
    public int Connections { get; init; } = 64;
    public int MaxRate { get; init; } = 10_000;
    public int Providers { get; init; } = 4;
    public int Models { get; init; } = 2;
    public int DispatchJobs { get; init; } = 300;
    public int DispatchWarmup { get; init; } = 30;
    public int LockIntervalMs { get; init; } = 10;
    public int BlockMs { get; init; } = 20;
    public bool Json { get; init; }

    public const string Usage = """
        Aitbc.Bench.Coordinator — signed job submissions per second on SQLite and on PostgreSQL, and the time from
        the coordinator seeing a committed escrow lock to the provider receiving the job

        Starts a real node and a real coordinator in this process (loopback, temporary files), first on SQLite, then
        on a PostgreSQL server it starts itself (initdb + postgres, as the postgres user when run as root), registers
        providers that dial in over the dispatch WebSocket, and for each database:
          1. loads POST /v1/jobs (every request signed by its client's key) over many connections, closed loop;
          2. submits jobs, locks their escrows on the chain at a steady pace, and times each from the node's
             escrow event (the same stream the coordinator follows) to the job arriving at its provider.

        Usage: dotnet run -c Release --project bench/Aitbc.Bench.Coordinator -- [options]

          --db LIST            sqlite, postgres or sqlite,postgres (default both)
          --seconds N          measured seconds of submissions per database (default 10)
          --warmup N           seconds of submissions before that, not measured, for the JIT's tiering to settle (default 8)
          --connections N      concurrent connections, each with its own client key (default 64)
          --max-rate N         request bodies pre-built per second of load (default 10000)
          --providers N        providers registered and connected (default 4)
          --models N           models among them (default 2; jobs alternate)
          --dispatch-jobs N    jobs timed from escrow to provider (default 300)
          --dispatch-warmup N  jobs through the same path first, not timed (default 30)
          --lock-interval N    ms between escrow locks sent to the node (default 10)
          --block-ms N         the chain's minimum block interval in ms (default 20)
          --json               print the results as JSON on stdout (the table goes to stderr)
        """;

    public static BenchOptions? Parse(string[] args, out string? error)
    {
        var o = BenchArgs.Parse(args, new BenchOptions(), static (a, o) => a.Flag switch
        {
            "--db" => o with { Databases = ParseDatabases(a.Value()) },
            "--seconds" => o with { Seconds = a.Int(1, 3600) },
            "--warmup" => o with { Warmup = a.Int(1, 3600) },
            "--connections" => o with { Connections = a.Int(1, 1024) },
            "--max-rate" => o with { MaxRate = a.Int(1, 10_000_000) },
            "--providers" => o with { Providers = a.Int(1, 64) },
            "--models" => o with { Models = a.Int(1, 64) },
            "--dispatch-jobs" => o with { DispatchJobs = a.Int(1, 1_000_000) },
            "--dispatch-warmup" => o with { DispatchWarmup = a.Int(1, 1_000_000) },
            "--lock-interval" => o with { LockIntervalMs = a.Int(1, 60_000) },
            "--block-ms" => o with { BlockMs = a.Int(1, 60_000) },
            "--json" => o with { Json = true },
            _ => throw a.Unknown(),
        }, out error);
        if (o is null)
        {
            return null;
        }
        if (o.Models > o.Providers)
        {
            error = "--models may not exceed --providers (each model needs a provider)";
            return null;
        }
        return o;
    }

    private static DatabaseKind[] ParseDatabases(string list)
    {
        var dbs = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // Names only: Enum.TryParse also takes numbers.
        return dbs.Length > 0 && dbs.All(d => Enum.GetNames<DatabaseKind>().Contains(d, StringComparer.OrdinalIgnoreCase))
            ? [.. dbs.Select(d => Enum.Parse<DatabaseKind>(d, ignoreCase: true))]
            : throw new FormatException("--db takes sqlite, postgres or both, comma-separated");
    }
}
