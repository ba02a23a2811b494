using System.Net.Http.Headers;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Provider;

/// <summary>The provider's signer as its settings say: the wallet daemon, or the key from the keystore (with its password).</summary>
public sealed class ProviderSigning : IDisposable
{
    private readonly IDisposable _owned;

    private ProviderSigning(IProviderSigner signer, IDisposable owned)
    {
        Signer = signer;
        _owned = owned;
    }

    public IProviderSigner Signer { get; }

    /// <summary>The environment variable that may hold the provider key's password (or use <see cref="ProviderOptions.PasswordFile"/>).</summary>
    public const string PasswordVariable = "AITBC_PROVIDER_PASSWORD";

    /// <summary>The environment variable that may hold a wallet-scoped token of the wallet daemon (or use <see cref="ProviderOptions.WalletTokenFile"/>).</summary>
    public const string WalletTokenVariable = "AITBC_PROVIDER_WALLET_TOKEN";

    public static async Task<ProviderSigning> OpenAsync(ProviderOptions options, CancellationToken ct = default)
    {
        if (options.WalletDaemon is { } daemon)
        {
            // A wallet-scoped token (a file, or the environment) when given; else the daemon's cookie file.
            var token = Secrets.FromFileOrEnvironment(options.WalletTokenFile, WalletTokenVariable);
            if (token is null)
            {
                var cookie = options.WalletCookie ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(options.Keystore))!, "wallet.cookie");
                if (!File.Exists(cookie))
                {
                    throw new InvalidOperationException($"The wallet daemon's cookie file '{cookie}' does not exist: is the daemon running?");
                }
                token = await File.ReadAllTextAsync(cookie, ct);
            }
            var http = new HttpClient { BaseAddress = new Uri(daemon), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
            try
            {
                return new ProviderSigning(await WalletDaemonSigner.ConnectAsync(http, options.Wallet, ct), http);
            }
            catch
            {
                http.Dispose();
                throw;
            }
        }
        var password = Secrets.FromFileOrEnvironment(options.PasswordFile, PasswordVariable);
        if (string.IsNullOrEmpty(password))
        {
            throw new InvalidOperationException("The provider key's password is needed: --password-file FILE or AITBC_PROVIDER_PASSWORD (or sign through --wallet-daemon).");
        }
        var (wallet, error) = new WalletKeystore(options.Keystore).Open(options.Wallet, password);
        return wallet is null
            ? throw new InvalidOperationException($"{error!.Message} (keystore {options.Keystore})")
            : new ProviderSigning(new LocalKeySigner(wallet.Key), wallet);
    }

    public void Dispose() => _owned.Dispose();
}
