using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Client;
using Aitbc.Wallet.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Wallet.Api;

/// <summary>Signing and sending: raw sign, send a transfer, and the escrow helpers. Every path goes through the policy and the audit log.</summary>
internal static class SigningApi
{
    public static RouteGroupBuilder MapSigningApi(this RouteGroupBuilder v1)
    {
        // All of these may be called with the wallet's own token: they sign only within the wallet's policy.
        var w = v1.MapGroup("/wallets/{name}").AllowWalletToken();
        w.MapPost("/sign", Sign).WithJsonBody<SignTransactionRequest>().WithName("SignTx").WithSummary("Sign {type, body, nonce?, fee?}; answers the signed transaction (not submitted).");
        w.MapPost("/send", Send).WithJsonBody<TransferRequest>().WithName("Send").WithSummary("Transfer {to, amount, memo?, fee?, wait?}: nonce, sign, submit, optionally wait for commit.");
        w.MapPost("/escrow/lock", (WalletContext c, string name, HttpRequest r, CancellationToken ct) => SendBody(c, name, TxTypes.EscrowLock, r, ct))
            .WithJsonBody<EscrowLockRequest>()
            .WithName("EscrowLock").WithSummary("{jobId, provider, amount, expiresAt, fee?, wait?}");
        w.MapPost("/escrow/settle", (WalletContext c, string name, HttpRequest r, CancellationToken ct) => SendBody(c, name, TxTypes.EscrowSettle, r, ct))
            .WithJsonBody<EscrowSettleRequest>()
            .WithName("EscrowSettle").WithSummary("{jobId, amount, receipt, fee?, wait?}");
        w.MapPost("/escrow/refund", (WalletContext c, string name, HttpRequest r, CancellationToken ct) => SendBody(c, name, TxTypes.EscrowRefund, r, ct))
            .WithJsonBody<EscrowRefundRequest>()
            .WithName("EscrowRefund").WithSummary("{jobId, fee?, wait?}");
        w.MapPost("/sign-receipt", SignReceipt).WithJsonBody<SignReceiptRequest>().WithName("SignReceipt")
            .WithSummary("Sign a usage receipt as its provider: {jobId, model, modelDigest, tokensIn, tokensOut, amount, resultHash}.");
        w.MapPost("/sign-request", SignRequest).WithJsonBody<SignHttpRequest>().WithName("SignRequest")
            .WithSummary("Sign a request to a service: {method, pathAndQuery, timestamp, bodySha256}; answers {signature}.");
        return v1;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> SignReceipt(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<SignReceiptRequest>(request, WalletsApi.MaxBody, WalletsApi.Json, ct);
        if (req is null)
        {
            return bad!;
        }
        if (!TxLimits.IsValidJobId(req.JobId) || string.IsNullOrEmpty(req.Model) || req.ModelDigest is null || req.Amount is not { } amount ||
            req.ResultHash is not { } resultHash || req.TokensIn < 0 || req.TokensOut < 0)
        {
            return WalletErrors.Of("invalid_transaction", "a receipt is {jobId, model, modelDigest, tokensIn, tokensOut, amount, resultHash}");
        }
        if (ctx.Keystore.Get(name) is not { } wallet)
        {
            return WalletErrors.Of("not_found", $"no wallet named '{name}'");
        }
        var unsigned = UsageReceipt.Unsigned(wallet.Address, req.JobId!, req.Model, req.ModelDigest, req.TokensIn, req.TokensOut, amount, resultHash);
        var (receipt, error) = await ctx.Signer.SignReceiptAsync(name, unsigned);
        return receipt is null ? WalletErrors.Of(error!, request.HttpContext.Response) : TypedResults.Bytes(receipt.ToJsonBytes(), "application/json");
    }

    private static async Task<Results<Ok<SignatureResponse>, ProblemHttpResult>> SignRequest(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<SignHttpRequest>(request, WalletsApi.MaxBody, WalletsApi.Json, ct);
        if (req is null)
        {
            return bad!;
        }
        if (req.Method is not ("GET" or "POST" or "PUT" or "DELETE") || req.PathAndQuery is not { Length: > 0 and <= 2048 } path || !path.StartsWith('/') ||
            req.BodySha256 is not { } bodyHash || req.Timestamp <= 0)
        {
            return WalletErrors.Of("invalid_transaction", "a request to sign is {method: GET|POST|PUT|DELETE, pathAndQuery: /…, timestamp (Unix ms), bodySha256}");
        }
        var (signature, error) = await ctx.Signer.SignRequestAsync(name, req.Method, path, req.Timestamp, bodyHash);
        return signature is null ? WalletErrors.Of(error!, request.HttpContext.Response) : TypedResults.Ok(new SignatureResponse(signature));
    }

    /// <summary>The envelope fields around a body: fee (base units), wait for commit, and (for sign) the nonce.</summary>
    private sealed record Envelope(Amount? Fee, bool Wait, long? Nonce);

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Sign(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (doc, bad) = await ReadObjectAsync(request, ct);
        if (doc is null)
        {
            return bad!;
        }
        using var owned = doc;
        var root = doc.RootElement;
        if (!root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || !root.TryGetProperty("body", out var b))
        {
            return WalletErrors.Of("invalid_transaction", "sign takes {type, body, nonce?, fee?}");
        }
        if (!Transaction.TryParseBody(type.GetString()!, b, out var txBody, out var error))
        {
            return WalletErrors.Of("invalid_transaction", error);
        }
        var (env, envError) = ReadEnvelope(root, ["type", "body", "nonce", "fee"]);
        if (env is null)
        {
            return envError!;
        }
        try
        {
            // The keystore and the node are asked only for what the request leaves out: a signer that gives
            // nonce and fee costs no database read and no round trip per signature.
            var nonce = env.Nonce ?? (ctx.Keystore.Get(name) is { } record ? (await ctx.Node.AccountAsync(record.Address, ct)).NextNonce : 0);
            var fee = env.Fee ?? (await ctx.Node.StatusAsync(ct)).MinFee;
            var (tx, signError) = await ctx.Signer.SignAsync(name, txBody, nonce, fee);
            return tx is null ? WalletErrors.Of(signError!, request.HttpContext.Response) : TypedResults.Bytes(tx.ToJsonBytes(), "application/json");
        }
        catch (HttpRequestException e)
        {
            return WalletErrors.Of("node_unavailable", $"the node cannot be reached for the nonce or fee: {e.Message}");
        }
    }

    private static async Task<Results<Ok<SendResponse>, Accepted<SendResponse>, ProblemHttpResult>> Send(WalletContext ctx, string name, HttpRequest request, CancellationToken ct) =>
        await SendBody(ctx, name, TxTypes.Transfer, request, ct);

    /// <summary>The body's own fields plus fee and wait; the body is parsed by the same strict rules as on chain.</summary>
    private static async Task<Results<Ok<SendResponse>, Accepted<SendResponse>, ProblemHttpResult>> SendBody(WalletContext ctx, string name, string type, HttpRequest request, CancellationToken ct)
    {
        var (doc, bad) = await ReadObjectAsync(request, ct);
        if (doc is null)
        {
            return bad!;
        }
        using var owned = doc;
        var (env, envError) = ReadEnvelope(doc.RootElement, null);
        if (env is null)
        {
            return envError!;
        }
        // The body is what remains once the envelope's fields are taken out.
        var fields = doc.RootElement.EnumerateObject().Where(p => p.Name is not ("fee" or "wait")).ToDictionary(p => p.Name, p => p.Value);
        using var bodyDoc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(fields));
        if (!Transaction.TryParseBody(type, bodyDoc.RootElement, out var txBody, out var error))
        {
            return WalletErrors.Of("invalid_transaction", error);
        }
        try
        {
            var (outcome, sendError) = await ctx.Signer.SendAsync(name, txBody, env.Fee, env.Wait, ct);
            if (outcome is null)
            {
                return WalletErrors.Of(sendError!, request.HttpContext.Response);
            }
            using var txJson = JsonDocument.Parse(outcome.Tx.ToJsonBytes());
            var response = new SendResponse(outcome.Tx.Id, outcome.Submitted.Status, outcome.Submitted.Height, txJson.RootElement.Clone());
            return outcome.Submitted.Committed ? TypedResults.Ok(response) : TypedResults.Accepted($"/v1/txs/{outcome.Tx.Id}", response);
        }
        catch (HttpRequestException e)
        {
            return WalletErrors.Of("node_unavailable", $"the node cannot be reached: {e.Message}");
        }
        catch (NodeException e)
        {
            return WalletErrors.Of("node_refused", e.Message);
        }
    }

    /// <summary>The request's body as a JSON object, or the problem to answer.</summary>
    private static async Task<(JsonDocument? Doc, ProblemHttpResult? Error)> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        var (body, bad) = await RequestBody.ReadAsync(request, WalletsApi.MaxBody, ct);
        if (body is null)
        {
            return (null, bad);
        }
        try
        {
            var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                return (doc, null);
            }
            doc.Dispose();
            return (null, Problems.Of(CommonErrors.MalformedRequest, "the body must be a JSON object"));
        }
        catch (JsonException e)
        {
            return (null, Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON: {e.Message}"));
        }
    }

    private static (Envelope?, ProblemHttpResult?) ReadEnvelope(JsonElement root, string[]? allowed)
    {
        // Names, not JsonProperty: a default JsonProperty (none found) throws when its Name is read.
        if (allowed is not null && root.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => !allowed.Contains(n)) is { } unknown)
        {
            return (null, WalletErrors.Of("invalid_transaction", $"unknown field '{unknown}'"));
        }
        Amount? fee = null;
        if (root.TryGetProperty("fee", out var f))
        {
            if (f.ValueKind != JsonValueKind.String || !Amount.TryParse(f.GetString(), out var parsed))
            {
                return (null, WalletErrors.Of("invalid_transaction", "fee must be a decimal string of base units"));
            }
            fee = parsed;
        }
        var wait = false;
        if (root.TryGetProperty("wait", out var w))
        {
            if (w.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return (null, WalletErrors.Of("invalid_transaction", "wait must be true or false"));
            }
            wait = w.GetBoolean();
        }
        long? nonce = null;
        if (root.TryGetProperty("nonce", out var n))
        {
            if (n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var parsed) || parsed < 0)
            {
                return (null, WalletErrors.Of("invalid_nonce", "nonce must be a non-negative integer"));
            }
            nonce = parsed;
        }
        return (new Envelope(fee, wait, nonce), null);
    }
}
