using Aitbc.Bench.Coordinator;

// Aitbc.Bench.Coordinator: signed job submissions per second (SQLite, then PostgreSQL) and the time from the
// coordinator seeing an escrow lock to the provider receiving the job. People's text goes to stderr; results to stdout.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
var options = BenchOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine($"Aitbc.Bench.Coordinator: {error}");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cts.IsCancellationRequested;
    cts.Cancel();
};
try
{
    var result = await new CoordinatorBenchmark(options, Console.Error).RunAsync(cts.Token);
    if (options.Json)
    {
        Console.Error.Write(result.ToTable());
        Console.WriteLine(result.ToJson());
    }
    else
    {
        Console.Write(result.ToTable());
    }
    return 0;
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    Console.Error.WriteLine("Aitbc.Bench.Coordinator: canceled");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException or TimeoutException)
{
    Console.Error.WriteLine($"Aitbc.Bench.Coordinator: {e.Message}");
    return 1;
}
