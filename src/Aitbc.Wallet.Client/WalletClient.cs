using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Wallet.Client;

/// <summary>
/// The wallet daemon refused a request: its problem (with the stable <c>code</c>), the node's code when the node refused the
/// transaction (<c>nodeCode</c>), and the seconds to wait when the refusal was rate-limited (<c>Retry-After</c>).
/// </summary>
public sealed class WalletException(Problem problem, string? nodeCode = null, int? retryAfterSeconds = null) : Exception(problem.ToString())
{
    public Problem Problem { get; } = problem;

    public string Code => Problem.Code;

    public string? NodeCode { get; } = nodeCode;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>
/// A typed client of the wallet daemon (port 8015, loopback only). The daemon wants its token on every request as
/// <c>Authorization: Bearer …</c>: the full-access token from its cookie file (<see cref="FromCookieFile"/>), or a
/// wallet-scoped token (<see cref="WithToken"/>). A refusal is thrown as a <see cref="WalletException"/> with its code.
/// </summary>
public sealed class WalletClient(HttpClient http)
{
    /// <summary>The header that carries the wallet's password when a policy change loosens it.</summary>
    public const string PasswordHeader = "AITBC-Wallet-Password";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public HttpClient Http => http;

    /// <summary>An HTTP client of the daemon at <paramref name="daemon"/> that carries <paramref name="token"/> (the caller disposes it).</summary>
    public static HttpClient CreateHttpClient(Uri daemon, string token, TimeSpan? timeout = null)
    {
        var client = new HttpClient { BaseAddress = daemon, Timeout = timeout ?? TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
        return client;
    }

    /// <summary>The daemon's full-access token, as its cookie file holds it.</summary>
    public static string ReadCookie(string path) => File.ReadAllText(path).Trim();

    /// <summary>A client with the token of the daemon's cookie file (readable by the daemon's user only).</summary>
    public static WalletClient FromCookieFile(Uri daemon, string cookiePath, TimeSpan? timeout = null) =>
        new(CreateHttpClient(daemon, ReadCookie(cookiePath), timeout));

    /// <summary>A client with a token: the cookie's, or a wallet-scoped <c>aitbc_wt_…</c> token (its wallet's signing endpoints only).</summary>
    public static WalletClient WithToken(Uri daemon, string token, TimeSpan? timeout = null) => new(CreateHttpClient(daemon, token, timeout));

    private static string W(string name) => $"/v1/wallets/{Uri.EscapeDataString(name)}";

    // Wallets.

    public Task<WalletInfo> CreateAsync(CreateWalletRequest request, CancellationToken ct = default) => PostAsync<WalletInfo>("/v1/wallets", request, ct);

    public Task<WalletInfo> ImportAsync(ImportWalletRequest request, CancellationToken ct = default) => PostAsync<WalletInfo>("/v1/wallets/import", request, ct);

    public async Task<IReadOnlyList<WalletInfo>> ListAsync(CancellationToken ct = default) => await GetAsync<List<WalletInfo>>("/v1/wallets", ct);

    public Task<WalletInfo> GetAsync(string name, CancellationToken ct = default) => GetAsync<WalletInfo>(W(name), ct);

    /// <summary>Deletes a wallet and its key: <paramref name="confirm"/> must repeat its name.</summary>
    public async Task DeleteAsync(string name, string confirm, CancellationToken ct = default)
    {
        using var response = await http.DeleteAsync(Relative($"{W(name)}?confirm={Uri.EscapeDataString(confirm)}"), ct);
        await EnsureAsync(response, ct);
    }

    public Task<WalletInfo> RenameAsync(string name, string newName, CancellationToken ct = default) =>
        PostAsync<WalletInfo>($"{W(name)}/rename", new RenameWalletRequest(newName), ct);

    /// <summary>The encrypted export file (still sealed under the wallet's password).</summary>
    public async Task<byte[]> ExportAsync(string name, CancellationToken ct = default)
    {
        using var response = await http.GetAsync(Relative($"{W(name)}/export"), ct);
        await EnsureAsync(response, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    public Task<UnlockResponse> UnlockAsync(string name, string password, TimeSpan? duration = null, CancellationToken ct = default) =>
        PostAsync<UnlockResponse>($"{W(name)}/unlock", new UnlockRequest(password, duration is { } d ? (int)Math.Ceiling(d.TotalSeconds) : null), ct);

    public Task<LockResponse> LockAsync(string name, CancellationToken ct = default) => PostAsync<LockResponse>($"{W(name)}/lock", null, ct);

    /// <summary>Replaces the spending policy (the wallet unlocked); loosening it needs <paramref name="password"/>.</summary>
    public async Task<WalletInfo> SetPolicyAsync(string name, WalletPolicy policy, string? password = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, Relative($"{W(name)}/policy"))
        {
            // The effective lists are the daemon's to answer, not part of a policy.
            Content = JsonContent.Create(policy with { EffectiveRecipients = null, EffectiveProviders = null }, options: Json),
        };
        if (password is not null)
        {
            request.Headers.Add(PasswordHeader, password);
        }
        using var response = await http.SendAsync(request, ct);
        return await ReadAsync<WalletInfo>(response, ct);
    }

    /// <summary>The wallet's account as the node has it.</summary>
    public Task<AccountInfo> BalanceAsync(string name, CancellationToken ct = default) => GetAsync<AccountInfo>($"{W(name)}/balance", ct);

    // Signing.

    /// <summary>Signs a transaction (not submitted); the daemon asks the node for the nonce and fee left out.</summary>
    public async Task<Transaction> SignAsync(string name, TxBody body, long? nonce = null, Amount? fee = null, CancellationToken ct = default)
    {
        using var bodyJson = JsonDocument.Parse(body.ToJsonBytes());
        using var response = await PostRawAsync($"{W(name)}/sign", new SignTransactionRequest(body.Type, bodyJson.RootElement, nonce, fee), ct);
        var bytes = await ReadBytesAsync(response, ct);
        return Transaction.TryParse(bytes, out var tx, out var error)
            ? tx
            : throw new InvalidOperationException($"The wallet daemon answered an unreadable transaction: {error}");
    }

    public Task<SendResponse> SendAsync(string name, TransferRequest request, CancellationToken ct = default) => PostAsync<SendResponse>($"{W(name)}/send", request, ct);

    public Task<SendResponse> EscrowLockAsync(string name, EscrowLockRequest request, CancellationToken ct = default) =>
        PostAsync<SendResponse>($"{W(name)}/escrow/lock", request, ct);

    public Task<SendResponse> EscrowSettleAsync(string name, EscrowSettleRequest request, CancellationToken ct = default) =>
        PostAsync<SendResponse>($"{W(name)}/escrow/settle", request, ct);

    public Task<SendResponse> EscrowRefundAsync(string name, EscrowRefundRequest request, CancellationToken ct = default) =>
        PostAsync<SendResponse>($"{W(name)}/escrow/refund", request, ct);

    /// <summary>Signs a usage receipt as its provider (the wallet's address is the receipt's provider).</summary>
    public async Task<UsageReceipt> SignReceiptAsync(string name, SignReceiptRequest request, CancellationToken ct = default)
    {
        using var response = await PostRawAsync($"{W(name)}/sign-receipt", request, ct);
        using var doc = JsonDocument.Parse(await ReadBytesAsync(response, ct));
        return UsageReceipt.TryParse(doc.RootElement, out var receipt, out var error)
            ? receipt
            : throw new InvalidOperationException($"The wallet daemon answered an unreadable receipt: {error}");
    }

    /// <summary>The hex signature of a request to a service.</summary>
    public async Task<string> SignRequestAsync(string name, SignHttpRequest request, CancellationToken ct = default) =>
        (await PostAsync<SignatureResponse>($"{W(name)}/sign-request", request, ct)).Signature;

    // Wallet-scoped tokens.

    public Task<TokenInfo> CreateTokenAsync(string name, CreateTokenRequest request, CancellationToken ct = default) =>
        PostAsync<TokenInfo>($"{W(name)}/tokens", request, ct);

    public async Task<IReadOnlyList<TokenInfo>> ListTokensAsync(string name, CancellationToken ct = default) =>
        await GetAsync<List<TokenInfo>>($"{W(name)}/tokens", ct);

    public async Task RevokeTokenAsync(string name, string id, CancellationToken ct = default)
    {
        using var response = await http.DeleteAsync(Relative($"{W(name)}/tokens/{Uri.EscapeDataString(id)}"), ct);
        await EnsureAsync(response, ct);
    }

    // The audit log.

    public Task<AuditPage> ReadAuditAsync(string? wallet = null, long? after = null, int? limit = null, CancellationToken ct = default)
    {
        var query = new List<string>();
        if (wallet is not null)
        {
            query.Add("wallet=" + Uri.EscapeDataString(wallet));
        }
        if (after is { } a)
        {
            query.Add("after=" + a.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (limit is { } l)
        {
            query.Add("limit=" + l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return GetAsync<AuditPage>(query.Count == 0 ? "/v1/audit" : "/v1/audit?" + string.Join('&', query), ct);
    }

    public Task<AuditVerification> VerifyAuditAsync(CancellationToken ct = default) => GetAsync<AuditVerification>("/v1/audit/verify", ct);

    // The wire.

    private static Uri Relative(string path) => new(path, UriKind.Relative);

    private async Task<T> GetAsync<T>(string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(Relative(path), ct);
        return await ReadAsync<T>(response, ct);
    }

    private async Task<T> PostAsync<T>(string path, object? body, CancellationToken ct)
    {
        using var response = await PostRawAsync(path, body, ct);
        return await ReadAsync<T>(response, ct);
    }

    /// <summary>A POST with a JSON body (<c>application/json</c>, as the daemon requires of every body), or none.</summary>
    private Task<HttpResponseMessage> PostRawAsync(string path, object? body, CancellationToken ct) =>
        body is null
            ? http.PostAsync(Relative(path), null, ct)
            : http.PostAsync(Relative(path), JsonContent.Create(body, body.GetType(), options: Json), ct);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        await EnsureAsync(response, ct);
        return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new InvalidOperationException("The wallet daemon answered no body.");
    }

    private static async Task<byte[]> ReadBytesAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await EnsureAsync(response, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>Throws the daemon's problem, typed with its code, when the answer is not a success.</summary>
    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        // The answer is buffered (the client's default), so it can be read as a problem and then for its node code.
        var problem = await NodeClient.ReadProblemAsync(response, ct);
        string? nodeCode = null;
        if (problem.Code == "node_refused" || problem.Code == "tx_rejected")
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(ct));
            nodeCode = doc.RootElement.TryGetProperty("nodeCode", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        }
        int? retryAfter = response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter?.Delta is { } delta ? (int)delta.TotalSeconds : null;
        throw new WalletException(problem, nodeCode, retryAfter);
    }
}
