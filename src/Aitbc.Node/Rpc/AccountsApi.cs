using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>Accounts, their history, and escrows.</summary>
internal static class AccountsApi
{
    public const int MaxHistory = 100;

    public static RouteGroupBuilder MapAccountsApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/accounts/{address}", Account).WithName("GetAccount").WithSummary("Balance, nonce and the next nonce counting pending transactions.");
        v1.MapGet("/accounts/{address}/txs", History).WithName("GetAccountTxs").WithSummary("The newest committed transactions that touched the address.");
        v1.MapGet("/escrows/{jobId}", Escrow).WithName("GetEscrow").WithSummary("An escrow by job id.");
        return v1;
    }

    public sealed record AccountDto(Address Address, Amount Balance, long Nonce, long NextNonce, int Pending, long Height);

    public sealed record EscrowDto(
        string JobId, Address Client, Address Provider, Amount Amount, long ExpiresAt, string Status,
        long LockedHeight, Amount Paid, Hash256? Receipt, long? ClosedHeight, long Height)
    {
        public static EscrowDto From(EscrowState e, long height) => new(e.JobId, e.Client, e.Provider, e.Amount, e.ExpiresAt,
            EscrowState.StatusName(e.Status), e.LockedHeight, e.Paid, e.Receipt.IsZero ? null : e.Receipt,
            e.ClosedHeight == 0 ? null : e.ClosedHeight, height);
    }

    private static IResult Account(NodeContext node, string address)
    {
        if (!Address.TryParse(address, out var a, out var error))
        {
            return Problems.Of(ApiErrors.InvalidAddress, $"'{address}' is not an address: {error}");
        }
        var height = node.Chain.Head.Height;
        var account = node.Chain.State.Account(a);
        return TypedResults.Ok(new AccountDto(a, account.Balance, account.Nonce, node.Pool.NextNonce(a), node.Pool.PendingCount(a), height));
    }

    private static IResult History(NodeContext node, string address, int? limit)
    {
        if (!Address.TryParse(address, out var a, out var error))
        {
            return Problems.Of(ApiErrors.InvalidAddress, $"'{address}' is not an address: {error}");
        }
        var n = limit ?? 20;
        if (n is < 1 or > MaxHistory)
        {
            return Problems.Of(ApiErrors.InvalidParameter, $"limit must be from 1 to {MaxHistory}");
        }
        var w = new CanonicalJsonWriter(4096);
        w.StartObject();
        w.Property("address", a.ToString());
        w.Name("txs");
        w.StartArray();
        foreach (var (location, id) in node.Chain.History(a, n))
        {
            var stored = node.Chain.FindTx(id) ?? throw new StorageCorruptException($"history names transaction {id}, which is not stored");
            w.StartObject();
            w.Property("hash", id.ToString());
            w.Property("height", location.Height);
            w.Property("index", location.Index);
            w.Name("tx");
            w.Raw(stored.Json);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return ChainApi.Json(w.ToArray());
    }

    private static IResult Escrow(NodeContext node, string jobId)
    {
        if (!TxLimits.IsValidJobId(jobId))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "a job id is 1-128 characters of letters, digits, '-', '_', '.', ':'");
        }
        var height = node.Chain.Head.Height;
        return node.Chain.State.Escrow(jobId) is { } e
            ? TypedResults.Ok(EscrowDto.From(e, height))
            : Problems.Of(ApiErrors.NotFound, $"no escrow for job '{jobId}' in a committed block");
    }
}
