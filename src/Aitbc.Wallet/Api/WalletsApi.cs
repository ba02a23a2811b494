using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Client;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Wallet.Api;

/// <summary>Wallets: create, import, list, rename, delete, export, unlock and lock, policy, balance.</summary>
internal static class WalletsApi
{
    public const int MaxBody = 16 * 1024;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static RouteGroupBuilder MapWalletsApi(this RouteGroupBuilder v1)
    {
        var w = v1.MapGroup("/wallets");
        w.MapPost("/", Create).WithJsonBody<CreateWalletRequest>().WithName("CreateWallet").WithSummary("Create (random seed; the phrase is shown once) or import (phrase or raw seed).");
        w.MapPost("/import", ImportFile).WithJsonBody<ImportWalletRequest>().WithName("ImportWallet").WithSummary("Import an export file with its password.");
        w.MapGet("/", List).WithName("ListWallets");
        w.MapGet("/{name}", Get).WithName("GetWallet").AllowWalletToken();
        w.MapDelete("/{name}", Delete).WithName("DeleteWallet").WithSummary("Delete; ?confirm= must repeat the name.");
        w.MapPost("/{name}/rename", Rename).WithJsonBody<RenameWalletRequest>().WithName("RenameWallet");
        w.MapGet("/{name}/export", Export).WithName("ExportWallet").WithSummary("The encrypted export file (still under the wallet's password).");
        w.MapPost("/{name}/unlock", Unlock).WithJsonBody<UnlockRequest>().WithName("UnlockWallet").WithSummary("Unlock for a time (default 300 s).");
        w.MapPost("/{name}/lock", Lock).WithName("LockWallet");
        w.MapPut("/{name}/policy", SetPolicy).WithJsonBody<WalletPolicy>().WithName("SetPolicy").WithSummary("Replace the spending policy (the wallet must be unlocked).");
        w.MapGet("/{name}/balance", Balance).WithName("GetBalance").AllowWalletToken();
        return v1;
    }

    private static WalletInfo Dto(WalletContext ctx, WalletRecord r, string? phrase = null) =>
        new(r.Name, r.Address, r.CreatedAt, ctx.Signer.UnlockedUntil(r.Name), Policy(r.Policy), phrase);

    /// <summary>The policy as the API shows it: its fields, and the effective lists it applies.</summary>
    internal static WalletPolicy Policy(SpendingPolicy p) =>
        new(p.MaxPerTx, p.MaxPerDay, p.AllowedRecipients, p.AllowedProviders, p.EffectiveRecipients, p.EffectiveProviders);

    private static async Task<Results<Created<WalletInfo>, ProblemHttpResult>> Create(WalletContext ctx, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<CreateWalletRequest>(request, MaxBody, Json, ct);
        if (req is null)
        {
            return bad!;
        }
        if (req.Phrase is not null && req.Seed is not null)
        {
            return WalletErrors.Of("invalid_seed", "give a phrase or a seed, not both");
        }
        WalletRecord? wallet;
        KeystoreError? error;
        string? phrase = null;
        if (req.Phrase is not null)
        {
            (wallet, error) = ctx.Keystore.ImportPhrase(req.Name ?? "", req.Password ?? "", req.Phrase);
        }
        else if (req.Seed is not null)
        {
            if (!Hex.TryDecode(req.Seed, 32, out var seed))
            {
                return WalletErrors.Of("invalid_seed", "a raw seed is 64 lowercase hex characters");
            }
            (wallet, error) = ctx.Keystore.Import(req.Name ?? "", req.Password ?? "", seed);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        }
        else
        {
            (wallet, phrase, error) = ctx.Keystore.Create(req.Name ?? "", req.Password ?? "");
        }
        return wallet is null ? WalletErrors.Of(error!) : TypedResults.Created($"/v1/wallets/{wallet.Name}", Dto(ctx, wallet, phrase));
    }

    private static async Task<Results<Created<WalletInfo>, ProblemHttpResult>> ImportFile(WalletContext ctx, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<ImportWalletRequest>(request, MaxBody, Json, ct);
        if (req is null)
        {
            return bad!;
        }
        if (req.File.ValueKind != JsonValueKind.Object)
        {
            // Also when "file" is missing: an undefined JsonElement cannot be serialized (that was a 500).
            return WalletErrors.Of("invalid_export", "give the export file's JSON object as \"file\"");
        }
        var (wallet, error) = ctx.Keystore.ImportFile(JsonSerializer.SerializeToUtf8Bytes(req.File), req.Password ?? "", req.Name);
        return wallet is null ? WalletErrors.Of(error!) : TypedResults.Created($"/v1/wallets/{wallet.Name}", Dto(ctx, wallet));
    }

    private static Ok<List<WalletInfo>> List(WalletContext ctx) => TypedResults.Ok(ctx.Keystore.List().Select(r => Dto(ctx, r)).ToList());

    private static Results<Ok<WalletInfo>, ProblemHttpResult> Get(WalletContext ctx, string name) =>
        ctx.Keystore.Get(name) is { } r ? TypedResults.Ok(Dto(ctx, r)) : WalletErrors.Of("not_found", $"no wallet named '{name}'");

    private static Results<NoContent, ProblemHttpResult> Delete(WalletContext ctx, string name, string? confirm)
    {
        var address = ctx.Keystore.Get(name)?.Address;
        var error = ctx.Keystore.Delete(name, confirm);
        if (error is not null)
        {
            return WalletErrors.Of(error);
        }
        ctx.Signer.Lock(name);
        if (address is { } deleted)
        {
            ctx.Tokens.ForgetWallet(deleted);
        }
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<WalletInfo>, ProblemHttpResult>> Rename(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<RenameWalletRequest>(request, MaxBody, Json, ct);
        if (req is null)
        {
            return bad!;
        }
        var error = ctx.Keystore.Rename(name, req.NewName ?? "");
        if (error is not null)
        {
            return WalletErrors.Of(error); // a refused rename leaves the wallet as it was, unlocked or not
        }
        ctx.Signer.Lock(name); // the unlock was held under the old name
        return TypedResults.Ok(Dto(ctx, ctx.Keystore.Get(req.NewName!)!));
    }

    private static Results<FileContentHttpResult, ProblemHttpResult> Export(WalletContext ctx, string name) =>
        ctx.Keystore.Export(name) is { } file
            ? TypedResults.Bytes(file, "application/json", $"{name}.aitbc-wallet.json")
            : WalletErrors.Of("not_found", $"no wallet named '{name}'");

    private static async Task<Results<Ok<UnlockResponse>, ProblemHttpResult>> Unlock(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (req, bad) = await RequestBody.ReadJsonAsync<UnlockRequest>(request, MaxBody, Json, ct);
        if (req is null)
        {
            return bad!;
        }
        var (expires, error) = ctx.Signer.Unlock(name, req.Password ?? "", req.Seconds is { } s ? TimeSpan.FromSeconds(s) : null);
        return expires is null ? WalletErrors.Of(error!) : TypedResults.Ok(new UnlockResponse(name, expires.Value));
    }

    private static Results<Ok<LockResponse>, ProblemHttpResult> Lock(WalletContext ctx, string name) =>
        ctx.Keystore.Get(name) is null
            ? WalletErrors.Of("not_found", $"no wallet named '{name}'")
            : TypedResults.Ok(new LockResponse(name, ctx.Signer.Lock(name)));

    private static async Task<Results<Ok<WalletInfo>, ProblemHttpResult>> SetPolicy(WalletContext ctx, string name, HttpRequest request, CancellationToken ct)
    {
        var (policy, bad) = await RequestBody.ReadJsonAsync<SpendingPolicy>(request, MaxBody, Json, ct);
        if (policy is null)
        {
            return bad!;
        }
        // Loosening a policy needs the password: sent in a header, since the body is the policy itself.
        var password = request.Headers[WalletClient.PasswordHeader].FirstOrDefault();
        var (record, error) = await ctx.Signer.SetPolicyAsync(name, policy, password);
        return record is null ? WalletErrors.Of(error!, request.HttpContext.Response) : TypedResults.Ok(Dto(ctx, record));
    }

    private static async Task<Results<Ok<AccountInfo>, ProblemHttpResult>> Balance(WalletContext ctx, string name, CancellationToken ct)
    {
        if (ctx.Keystore.Get(name) is not { } r)
        {
            return WalletErrors.Of("not_found", $"no wallet named '{name}'");
        }
        try
        {
            return TypedResults.Ok(await ctx.Node.AccountAsync(r.Address, ct));
        }
        catch (HttpRequestException e)
        {
            return WalletErrors.Of("node_unavailable", $"the node at {ctx.Options.Node} cannot be reached: {e.Message}");
        }
    }
}
