using Aitbc.Wallet.Audit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Wallet.Api;

/// <summary>The audit log of every signing decision, and a check of its hash chain.</summary>
internal static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/audit", Read).WithName("ReadAudit").WithSummary("Entries after a sequence number (?wallet=&after=&limit=, at most 1000).");
        v1.MapGet("/audit/verify", Verify).WithName("VerifyAudit")
            .WithSummary("Recompute the hash chain and the MACs of unlocked wallets' entries; names the first entry that does not hold.");
        return v1;
    }

    public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? Next);

    private static IResult Verify(WalletContext ctx)
    {
        var keys = ctx.Signer.AuditKeys();
        try
        {
            return TypedResults.Ok(ctx.Audit.Verify(keys));
        }
        finally
        {
            foreach (var k in keys.Values)
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(k.Key);
            }
        }
    }

    private static IResult Read(WalletContext ctx, string? wallet, long? after, int? limit)
    {
        var n = limit ?? 100;
        if (n is < 1 or > 1000 || after < 0)
        {
            return WalletErrors.Of("invalid_parameter", "limit is from 1 to 1000 and after not negative");
        }
        var entries = ctx.Audit.Read(wallet, after ?? 0, n);
        return TypedResults.Ok(new AuditPage(entries, entries.Count == n ? entries[^1].Seq : null));
    }
}
