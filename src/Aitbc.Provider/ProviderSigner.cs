using System.Net.Http.Json;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Provider;

/// <summary>
/// Who signs for the provider: its transactions (settle, refund), its receipts and its requests to
/// the coordinator. Either a key held in this process (loaded from the keystore), or the wallet
/// daemon, so that the key never enters the provider process.
/// </summary>
public interface IProviderSigner
{
    Address Address { get; }

    Task<Transaction> SignTransactionAsync(string chainId, long nonce, Amount fee, TxBody body, CancellationToken ct);

    Task<UsageReceipt> SignReceiptAsync(UsageReceipt unsigned, CancellationToken ct);

    /// <summary>The hex signature of a request (method, path and query, timestamp, body hash).</summary>
    Task<string> SignRequestAsync(string method, string pathAndQuery, long timestamp, Hash256 bodyHash, CancellationToken ct);
}

/// <summary>A key held in this process (the caller owns it).</summary>
public sealed class LocalKeySigner(Ed25519Key key) : IProviderSigner
{
    public Address Address => key.Address;

    public Task<Transaction> SignTransactionAsync(string chainId, long nonce, Amount fee, TxBody body, CancellationToken ct) =>
        Task.FromResult(Transaction.Sign(key, chainId, nonce, fee, body));

    public Task<UsageReceipt> SignReceiptAsync(UsageReceipt unsigned, CancellationToken ct) =>
        Task.FromResult(unsigned with { Signature = key.Sign(unsigned.SigningBytes()) });

    public Task<string> SignRequestAsync(string method, string pathAndQuery, long timestamp, Hash256 bodyHash, CancellationToken ct) =>
        Task.FromResult(Hex.Encode(key.Sign(HttpSignature.SigningBytes(method, pathAndQuery, timestamp, bodyHash))));
}

/// <summary>
/// The wallet daemon signs (its token from the cookie file; the wallet must be unlocked there). Every
/// signature is checked against the wallet's policy and written to its audit log by the daemon.
/// </summary>
public sealed class WalletDaemonSigner : IProviderSigner
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _wallet;
    private readonly string _name;

    private WalletDaemonSigner(HttpClient wallet, string name, Address address)
    {
        _wallet = wallet;
        _name = Uri.EscapeDataString(name);
        Address = address;
    }

    public Address Address { get; }

    /// <summary>Connects to the daemon and checks the wallet is there and unlocked.</summary>
    public static async Task<WalletDaemonSigner> ConnectAsync(HttpClient wallet, string name, CancellationToken ct)
    {
        using var response = await wallet.GetAsync(new Uri($"/v1/wallets/{Uri.EscapeDataString(name)}", UriKind.Relative), ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The wallet daemon has no usable wallet '{name}': {await NodeClient.ReadProblemAsync(response, ct)}");
        }
        var w = await response.Content.ReadFromJsonAsync<JsonElement>(Json, ct);
        if (!w.TryGetProperty("unlockedUntil", out _))
        {
            throw new InvalidOperationException($"Wallet '{name}' is locked in the wallet daemon: unlock it there first (for as long as the provider should run).");
        }
        return new WalletDaemonSigner(wallet, name, Address.Parse(w.GetProperty("address").GetString()!));
    }

    public async Task<Transaction> SignTransactionAsync(string chainId, long nonce, Amount fee, TxBody body, CancellationToken ct)
    {
        using var bodyDoc = JsonDocument.Parse(body.ToJsonBytes());
        var bodyJson = bodyDoc.RootElement;
        using var response = await _wallet.PostAsJsonAsync(new Uri($"/v1/wallets/{_name}/sign", UriKind.Relative),
            new { type = body.Type, body = bodyJson, nonce, fee = fee.ToString() }, Json, ct);
        var json = await ReadAsync(response, ct);
        return Transaction.TryParse(json, out var tx, out var error) && tx.ChainId == chainId && tx.From == Address
            ? tx
            : throw new InvalidOperationException($"The wallet daemon answered an unusable transaction: {error}");
    }

    public async Task<UsageReceipt> SignReceiptAsync(UsageReceipt unsigned, CancellationToken ct)
    {
        using var response = await _wallet.PostAsJsonAsync(new Uri($"/v1/wallets/{_name}/sign-receipt", UriKind.Relative), new
        {
            jobId = unsigned.JobId,
            model = unsigned.Model,
            modelDigest = unsigned.ModelDigest,
            tokensIn = unsigned.TokensIn,
            tokensOut = unsigned.TokensOut,
            amount = unsigned.Amount.ToString(),
            resultHash = unsigned.ResultHash.ToString(),
        }, Json, ct);
        using var doc = JsonDocument.Parse(await ReadAsync(response, ct));
        return UsageReceipt.TryParse(doc.RootElement, out var receipt, out var error) && receipt.VerifySignature() && receipt.Hash == (unsigned with { Signature = receipt.Signature }).Hash
            ? receipt
            : throw new InvalidOperationException($"The wallet daemon answered an unusable receipt: {error}");
    }

    public async Task<string> SignRequestAsync(string method, string pathAndQuery, long timestamp, Hash256 bodyHash, CancellationToken ct)
    {
        using var response = await _wallet.PostAsJsonAsync(new Uri($"/v1/wallets/{_name}/sign-request", UriKind.Relative),
            new { method, pathAndQuery, timestamp, bodySha256 = bodyHash.ToString() }, Json, ct);
        using var doc = JsonDocument.Parse(await ReadAsync(response, ct));
        return doc.RootElement.GetProperty("signature").GetString() ?? throw new InvalidOperationException("The wallet daemon answered no signature.");
    }

    private static async Task<byte[]> ReadAsync(HttpResponseMessage response, CancellationToken ct) =>
        response.IsSuccessStatusCode
            ? await response.Content.ReadAsByteArrayAsync(ct)
            : throw new InvalidOperationException($"The wallet daemon refused to sign: {await NodeClient.ReadProblemAsync(response, ct)}");
}
