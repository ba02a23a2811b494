using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
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

    private static Ok<Client.AuditVerification> Verify(WalletContext ctx)
    {
        var keys = ctx.Signer.AuditKeys();
        try
        {
            var v = ctx.Audit.Verify(keys);
            return TypedResults.Ok(new Client.AuditVerification(v.Intact, v.Entries, v.FirstBadSeq, v.Problem, v.MacChecked, v.MacUnchecked));
        }
        finally
        {
            foreach (var k in keys.Values)
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(k.Key);
            }
        }
    }

    private static Results<Ok<AuditPage>, ProblemHttpResult> Read(WalletContext ctx, string? wallet, long? after, int? limit)
    {
        var n = limit ?? 100;
        if (n is < 1 or > 1000 || after < 0)
        {
            return WalletErrors.Of("invalid_parameter", "limit is from 1 to 1000 and after not negative");
        }
        var entries = ctx.Audit.Read(wallet, after ?? 0, n)
            .Select(e => new AuditRecord(e.Seq, e.Time, e.Wallet, e.Address, e.TxId, e.Type, e.Amount, e.Decision, e.Reason, e.PrevHash, e.Hash, e.Mac))
            .ToList();
        return TypedResults.Ok(new AuditPage(entries, entries.Count == n ? entries[^1].Seq : null));
    }
}
