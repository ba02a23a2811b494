using Aitbc.Bench;
using Aitbc.Bench.Coordinator;

// Aitbc.Bench.Coordinator: signed job submissions per second (SQLite, then PostgreSQL) and the time from the
// coordinator seeing an escrow lock to the provider receiving the job.
return await BenchMain.RunAsync("Aitbc.Bench.Coordinator", args, BenchOptions.Usage, BenchOptions.Parse, o => o.Json,
    async (o, ct) => await new CoordinatorBenchmark(o, Console.Error).RunAsync(ct));
