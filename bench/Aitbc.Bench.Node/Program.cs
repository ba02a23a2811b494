using System.Runtime.InteropServices;
using Aitbc.Bench.Node;

// aitbc-bench-node: loads the real node over its RPC and measures committed throughput, commit
// latency, memory and this machine's Ed25519 rate. People's text goes to stderr; results to stdout.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
var options = BenchOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine($"aitbc-bench-node: {error}");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl+C: stop cleanly (the node is stopped and the data removed); a second one kills.
    e.Cancel = !cts.IsCancellationRequested;
    cts.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    cts.Cancel();
});
try
{
    var result = await new NodeBenchmark(options, Console.Error).RunAsync(cts.Token);
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
    Console.Error.WriteLine("aitbc-bench-node: canceled");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or FormatException or TimeoutException or FileNotFoundException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"aitbc-bench-node: {e.Message}");
    return 1;
}
