using Aitbc.Cli.Abstractions;
using Aitbc.Core;

namespace Aitbc.Cli.Wallets;

/// <summary>The wallets a command names: through the wallet daemon when it runs, else the keystore directly.</summary>
internal sealed class WalletAccess
{
    private readonly object _pending = new();

    public Task<Address> AddressOfAsync(string name, CancellationToken ct) => _pending is null ? Task.FromResult(default(Address)) :
        throw new CliException(ExitCodes.Failed, $"wallet '{name}': the wallet commands are not built yet");
}
