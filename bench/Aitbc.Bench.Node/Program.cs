using Aitbc.Bench;
using Aitbc.Bench.Node;

// aitbc-bench-node: loads the real node over its RPC and measures committed throughput, commit
// latency, memory and this machine's Ed25519 rate.
return await BenchMain.RunAsync("aitbc-bench-node", args, BenchOptions.Usage, BenchOptions.Parse, o => o.Json,
    async (o, ct) => await new NodeBenchmark(o, Console.Error).RunAsync(ct));
