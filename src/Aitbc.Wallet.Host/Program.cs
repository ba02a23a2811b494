using Aitbc.ServiceDefaults;
using Aitbc.Wallet;

// aitbc-wallet: the wallet daemon, on loopback only, token in a cookie file beside the keystore.
HostFlag[] flags =
[
    new("--keystore", "Wallet:Keystore", "the keystore's SQLite file (default ~/.aitbc/wallet/keystore.db)"),
    new("--cookie", "Wallet:Cookie", "the cookie file with the API token (default: wallet.cookie beside the keystore)"),
    new("--host", "Wallet:Host", "listen address, loopback only (default 127.0.0.1)"),
    new("--port", "Wallet:Port", "port (default 8015; 0 picks a free one)"),
    new("--node", "Wallet:Node", "the node's RPC (default http://127.0.0.1:8006)"),
    new("--kdf-passes", "Wallet:KdfPasses", "Argon2id passes for new keys (default 3)"),
    new("--kdf-memory", "Wallet:KdfMemoryKiB", "Argon2id memory in KiB for new keys (default 262144)"),
    new("--max-tokens", "Wallet:MaxTokensPerWallet", "the most wallet tokens one wallet may hold (default 64)"),
    new("--max-refusals", "Wallet:MaxRefusalsPerMinute", "the most policy refusals one wallet writes to the audit log per minute (default 60)"),
];
var (config, exit) = HostConfiguration.Build("aitbc-wallet", "the AITBC wallet daemon", flags, [], args);
if (config is null)
{
    return exit;
}
if (HostConfiguration.Bind<WalletOptions>("aitbc-wallet", config, WalletOptions.Section) is not { } options)
{
    return 2;
}
try
{
    await using var server = await WalletServer.StartAsync(options);
    Console.Error.WriteLine($"Wallet daemon at {server.Uri} (keystore {server.Keystore.Path}, token in {server.CookiePath})");
    await HostConfiguration.WaitForStopSignalAsync();
    Console.Error.WriteLine("Stopping.");
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
{
    Console.Error.WriteLine($"aitbc-wallet: {e.Message}");
    return 1;
}
