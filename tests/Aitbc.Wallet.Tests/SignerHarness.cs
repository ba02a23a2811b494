using Aitbc.Node.Client;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Signing;

namespace Aitbc.Wallet.Tests;

/// <summary>
/// The daemon's parts without HTTP: a real keystore file, audit log and signer, all on a <see cref="ManualTime"/>
/// clock, for unlock expiry and the rolling daily window. Signing needs no node (nonce and fee are given), so the
/// node client points at a port nothing listens on.
/// </summary>
internal sealed class SignerHarness : IAsyncDisposable
{
    public const string ChainId = "aitbc-signer-test";
    public const string Password = WalletDaemon.Password;
    private readonly TempDir _dir = new();
    private readonly HttpClient _http = new() { BaseAddress = new Uri("http://127.0.0.1:9") };

    public SignerHarness()
    {
        Keystore = new WalletKeystore(_dir.Sub("keystore.db"), KdfCost.Fast);
        Audit = new AuditLog(Keystore, Time);
        Signer = new WalletSigner(Keystore, Audit, new NodeClient(_http), ChainId, Time);
    }

    public ManualTime Time { get; } = new();

    public WalletKeystore Keystore { get; }

    public AuditLog Audit { get; }

    public WalletSigner Signer { get; }

    /// <summary>A new wallet; answers its address.</summary>
    public Address Create(string name)
    {
        var (wallet, _, error) = Keystore.Create(name, Password);
        Assert.Null(error);
        return wallet!.Address;
    }

    public void Unlock(string name, TimeSpan? duration = null)
    {
        var (expires, error) = Signer.Unlock(name, Password, duration);
        Assert.Null(error);
        Assert.NotNull(expires);
    }

    public Task<(Transaction? Tx, SignError? Error)> TransferAsync(string name, ulong amount, long nonce = 0, ulong fee = 1_000) =>
        Signer.SignAsync(name, new TransferBody(TestKeys.Stranger(), new Amount(amount)), nonce, new Amount(fee));

    public async ValueTask DisposeAsync()
    {
        Signer.Dispose();
        await Audit.DisposeAsync();
        _http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}
