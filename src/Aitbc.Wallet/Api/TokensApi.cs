using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Client;
using Aitbc.Wallet.Keystore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Wallet.Api;

/// <summary>
/// Wallet-scoped API tokens, for agents (the future agent gateway among them): created with the wallet's password
/// and shown once, listed and revoked with the cookie's token. A wallet token cannot call these.
/// </summary>
internal static class TokensApi
{
    public const int MaxLabelLength = 64;

    public static RouteGroupBuilder MapTokensApi(this RouteGroupBuilder v1)
    {
        var t = v1.MapGroup("/wallets/{name}/tokens");
        t.MapPost("/", Create).WithJsonBody<CreateTokenRequest>().WithName("CreateWalletToken").WithSummary("{password, label?}: a token for this wallet only, shown once.");
        t.MapGet("/", List).WithName("ListWalletTokens").WithSummary("The wallet's tokens (id, label, createdAt; never the token).");
        t.MapDelete("/{id}", Revoke).WithName("RevokeWalletToken");
        return v1;
    }

    private static TokenInfo Dto(string name, WalletToken t, string? token = null) => new(t.Id, name, t.Address, t.Label, t.CreatedAt, token);

    private static async Task<Results<Created<TokenInfo>, ProblemHttpResult>> Create(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<CreateTokenRequest>(request, WalletsApi.MaxBody, WalletsApi.Json, ct);
        if (req is null)
        {
            return bad!;
        }
        if (req.Label is { } label && (label.Length is 0 or > MaxLabelLength || label.Any(char.IsControl)))
        {
            return WalletErrors.Of("invalid_parameter", $"a label is 1-{MaxLabelLength} printable characters");
        }
        // The password, not the cookie alone: whoever holds the cookie can use unlocked wallets, but only the owner hands out access.
        var (opened, error) = ctx.Keystore.Open(name, req.Password ?? "");
        if (opened is null)
        {
            return WalletErrors.Of(error!);
        }
        var address = opened.Record.Address;
        opened.Dispose();
        if (ctx.Tokens.Create(address, req.Label) is not var (record, token))
        {
            return WalletErrors.Of("too_many_tokens", $"wallet '{name}' holds {ctx.Options.MaxTokensPerWallet} tokens, the most it may: revoke one first");
        }
        return TypedResults.Created($"/v1/wallets/{name}/tokens/{record.Id}", Dto(name, record, token));
    }

    private static Results<Ok<List<TokenInfo>>, ProblemHttpResult> List(WalletContext ctx, string name) =>
        ctx.Keystore.Get(name) is { } r
            ? TypedResults.Ok(ctx.Tokens.List(r.Address).Select(t => Dto(name, t)).ToList())
            : WalletErrors.Of("not_found", $"no wallet named '{name}'");

    private static Results<NoContent, ProblemHttpResult> Revoke(WalletContext ctx, string name, string id)
    {
        if (ctx.Keystore.Get(name) is not { } r)
        {
            return WalletErrors.Of("not_found", $"no wallet named '{name}'");
        }
        return ctx.Tokens.Revoke(r.Address, id) ? TypedResults.NoContent() : WalletErrors.Of("token_not_found", $"wallet '{name}' has no token '{id}'");
    }
}
