using Aitbc.Provider;
using Aitbc.ServiceDefaults;

// aitbc-ai-serve: offers a backend's models to the market and runs only paid jobs.
HostFlag[] flags =
[
    new("--coordinator", "Provider:Coordinator", "the coordinator (default http://127.0.0.1:8000)"),
    new("--node", "Provider:Node", "the node's RPC (default http://127.0.0.1:8006)"),
    new("--backend", "Provider:Backend", "ollama (default), openai (any OpenAI-compatible server) or dev-echo (built-in DEVELOPMENT model, no inference)"),
    new("--backend-url", "Provider:BackendUrl", "the backend's address (default http://127.0.0.1:11434)"),
    new("--keystore", "Provider:Keystore", "the keystore holding the provider key (default ~/.aitbc/wallet/keystore.db)"),
    new("--wallet", "Provider:Wallet", "the provider key's wallet name (default provider)"),
    new("--password-file", "Provider:PasswordFile", "a file holding the wallet's password (or set AITBC_PROVIDER_PASSWORD)"),
    new("--wallet-daemon", "Provider:WalletDaemon", "sign through this wallet daemon instead of holding the key (e.g. http://127.0.0.1:8015)"),
    new("--wallet-cookie", "Provider:WalletCookie", "the wallet daemon's cookie file (default ~/.aitbc/wallet/wallet.cookie)"),
    new("--wallet-token-file", "Provider:WalletTokenFile", "a file holding a wallet-scoped token of the wallet daemon, instead of its cookie (or set AITBC_PROVIDER_WALLET_TOKEN)"),
    new("--backend-api-key-file", "Provider:BackendApiKeyFile", "a file holding the backend's API key (openai backends)"),
    new("--data-dir", "Provider:DataDir", "the provider's data: results kept until the coordinator has them (default ~/.aitbc/provider)"),
    new("--price-in", "Provider:PriceIn", "base units per million input tokens (default 100000000)"),
    new("--price-out", "Provider:PriceOut", "base units per million output tokens (default 300000000)"),
    new("--concurrency", "Provider:Concurrency", "jobs at once (default 2)"),
    new("--region", "Provider:Region", "region label (default local)"),
    new("--gpu", "Provider:Gpu", "GPU description"),
    new("--host", "Provider:Host", "listen address of the daemon's API (default 127.0.0.1)"),
    new("--port", "Provider:Port", "port of the daemon's API (default 8008)"),
    new("--job-timeout", "Provider:JobTimeoutSeconds", "longest a job may run (default 300)"),
    new("--grace", "Provider:GraceSeconds", "on shutdown, seconds running jobs have to finish (default 30)"),
    new("--max-output-bytes", "Provider:MaxOutputBytes", "the most output a job may produce, in UTF-8 bytes (default and at most 1048576, the coordinator's limit)"),
    new("--direct-rate", "Provider:DirectRequestsPerIpPerSecond", "direct-path requests per client network per second (default 5)"),
    new("--direct-burst", "Provider:DirectBurstPerIp", "direct-path requests per client network at once (default 20)"),
];
var (config, exit) = HostConfiguration.Build("aitbc-ai-serve", "the AITBC provider daemon", flags, [], args);
if (config is null)
{
    return exit;
}
if (HostConfiguration.Bind<ProviderOptions>("aitbc-ai-serve", config, ProviderOptions.Section) is not { } options)
{
    return 2;
}
try
{
    using var signer = await ProviderSigning.OpenAsync(options);
    await using var server = await ProviderServer.StartAsync(options, signer.Signer, ProviderServer.CreateBackend(options));
    Console.Error.WriteLine($"Provider {server.Address} serving {options.Backend} at {server.Uri}, registered at {options.Coordinator}" +
        (options.WalletDaemon is null ? "" : $", signing through the wallet daemon at {options.WalletDaemon}"));
    await HostConfiguration.WaitForStopSignalAsync();
    Console.Error.WriteLine($"Stopping: running jobs have {options.GraceSeconds} s to finish; the rest are refunded.");
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"aitbc-ai-serve: {e.Message}");
    return 1;
}
