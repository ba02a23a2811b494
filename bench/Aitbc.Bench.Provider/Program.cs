using Aitbc.Bench.Provider;

// Aitbc.Bench.Provider: paid jobs per second through the provider daemon with the development model, and the
// latency the daemon adds per job over calling the backend directly, chain waits excluded. People's text goes
// to stderr; results to stdout.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
var options = BenchOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine($"Aitbc.Bench.Provider: {error}");
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
    var result = await new ProviderBenchmark(options, Console.Error).RunAsync(cts.Token);
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
    Console.Error.WriteLine("Aitbc.Bench.Provider: canceled");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"Aitbc.Bench.Provider: {e.Message}");
    return 1;
}
