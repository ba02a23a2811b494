using Aitbc.Cli.Abstractions;
using Aitbc.Core;

namespace Aitbc.Cli.Wallets;

/// <summary>The wallets a command names. The wallet commands are not built yet: naming a wallet is a clear error.</summary>
internal static class WalletAccess
{
    public static Task<Address> AddressOfAsync(string name) =>
        Task.FromException<Address>(new CliException(ExitCodes.Failed,
            $"wallet '{name}': the wallet commands are not built yet; name the address instead", "not_built"));
}
