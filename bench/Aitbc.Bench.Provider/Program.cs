using Aitbc.Bench;
using Aitbc.Bench.Provider;

// Aitbc.Bench.Provider: paid jobs per second through the provider daemon with the development model, and the
// latency the daemon adds per job over calling the backend directly, chain waits excluded.
return await BenchMain.RunAsync("Aitbc.Bench.Provider", args, BenchOptions.Usage, BenchOptions.Parse, o => o.Json,
    async (o, ct) => await new ProviderBenchmark(o, Console.Error).RunAsync(ct));
