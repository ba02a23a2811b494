using Aitbc.Bench;
using Aitbc.Bench.Wallet;

// Aitbc.Bench.Wallet: signatures per second through the wallet daemon's API, with raw NSec signing measured in
// the same run, and unlock time at the default KDF cost.
return await BenchMain.RunAsync("Aitbc.Bench.Wallet", args, BenchOptions.Usage, BenchOptions.Parse, o => o.Json,
    async (o, ct) => await new WalletBenchmark(o, Console.Error).RunAsync(ct));
