using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Aitbc.Wallet.Api;

/// <summary>The catalogue of the wallet daemon's errors, and the one mapping of keystore and signer refusals to it.</summary>
internal static class WalletErrors
{
    private static readonly Dictionary<string, ApiError> ByCode = new ApiError[]
    {
        new("not_found", 404, "No such wallet."),
        new("name_taken", 409, "The name is taken."),
        new("duplicate_key", 409, "The keystore holds this key already."),
        new("invalid_name", 400, "The wallet name is not valid."),
        new("weak_password", 400, "The password is too weak."),
        new("invalid_phrase", 400, "The recovery phrase is not valid."),
        new("invalid_seed", 400, "The seed is not valid."),
        new("invalid_export", 400, "The export file is not valid."),
        new("invalid_duration", 400, "The unlock duration is out of range."),
        new("invalid_nonce", 400, "The nonce is out of range."),
        new("invalid_transaction", 400, "The transaction is malformed."),
        new("wrong_password", 403, "The password does not open this wallet."),
        new("password_required", 403, "This change needs the wallet's password."),
        new("tampered", 409, "The keystore record was altered outside the wallet."),
        new("confirmation_required", 400, "Confirm by repeating the wallet's name."),
        new("locked", 423, "The wallet is locked."),
        new("policy_refused", 403, "The wallet's spending policy refuses this."),
        new("node_refused", 422, "The node refused the transaction."),
        new("tx_rejected", 422, "The transaction was refused when its block was built."),
        new("node_unavailable", 502, "The node cannot be reached."),
        new("invalid_parameter", 400, "A query parameter is out of range."),
        new("invalid_host", 400, "The request is not addressed to the daemon on loopback."),
        new("token_scope", 403, "This wallet token may not call this endpoint or this wallet."),
        new("too_many_tokens", 409, "The wallet holds the most tokens it may."),
        new("token_not_found", 404, "No such token."),
        new("too_many_refusals", 429, "The wallet's refusals are over their rate: wait before trying again."),
    }.ToDictionary(e => e.Code);

    public static ApiError Get(string code) => ByCode[code];

    public static ProblemHttpResult Of(KeystoreError e) => Problems.Of(ByCode[e.Code], e.Message);

    /// <summary>The signer's refusal; a rate-limited one also sets the response's <c>Retry-After</c> header.</summary>
    public static ProblemHttpResult Of(SignError e, HttpResponse response)
    {
        if (e.RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return Problems.Of(ByCode[e.Code], e.Message, e.NodeProblem is { } p ? new Dictionary<string, object?> { ["nodeCode"] = p.Code } : null);
    }

    public static ProblemHttpResult Of(string code, string message) => Problems.Of(ByCode[code], message);
}
