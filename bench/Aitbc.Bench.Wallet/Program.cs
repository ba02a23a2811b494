using Aitbc.Bench.Wallet;

// Aitbc.Bench.Wallet: signatures per second through the wallet daemon's API, with raw NSec signing measured in
// the same run, and unlock time at the default KDF cost. People's text goes to stderr; results to stdout.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
var options = BenchOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine($"Aitbc.Bench.Wallet: {error}");
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
    var result = await new WalletBenchmark(options, Console.Error).RunAsync(cts.Token);
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
    Console.Error.WriteLine("Aitbc.Bench.Wallet: canceled");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"Aitbc.Bench.Wallet: {e.Message}");
    return 1;
}
