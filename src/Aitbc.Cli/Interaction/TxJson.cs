using Aitbc.Core;
using Spectre.Console;

namespace Aitbc.Cli.Interaction;

/// <summary>A transaction as the CLI shows it: its envelope, and the fields of its body that its type has.</summary>
internal sealed record TxJson(
    string Hash, string Type, string From, long Nonce, AmountJson Fee,
    string? To = null, AmountJson? Amount = null, string? Memo = null, string? JobId = null, string? Provider = null, long? ExpiresAt = null, string? Receipt = null)
{
    public static TxJson Of(Transaction tx)
    {
        var t = new TxJson(tx.Id.ToString(), tx.Type, tx.From.ToString(), tx.Nonce, AmountJson.Of(tx.Fee));
        return tx.Body switch
        {
            TransferBody b => t with { To = b.To.ToString(), Amount = AmountJson.Of(b.Amount), Memo = b.Memo },
            EscrowLockBody b => t with { JobId = b.JobId, Provider = b.Provider.ToString(), Amount = AmountJson.Of(b.Amount), ExpiresAt = b.ExpiresAt },
            EscrowSettleBody b => t with { JobId = b.JobId, Amount = AmountJson.Of(b.Amount), Receipt = b.Receipt.ToString() },
            EscrowRefundBody b => t with { JobId = b.JobId },
            _ => t,
        };
    }

    /// <summary>One line for people: what the transaction does.</summary>
    public string Summary() => Type switch
    {
        TxTypes.Transfer => $"{Amount?.Ait} AIT to {To}{(Memo is null ? "" : $" ({Memo})")}",
        TxTypes.EscrowLock => $"locks {Amount?.Ait} AIT for job {JobId}, payable to {Provider}",
        TxTypes.EscrowSettle => $"settles job {JobId}: {Amount?.Ait} AIT to the provider",
        TxTypes.EscrowRefund => $"refunds job {JobId}",
        _ => Type,
    };

    public static Table Table(IEnumerable<TxJson> txs)
    {
        var table = new Table().AddColumn("hash").AddColumn("type").AddColumn("from").AddColumn("what");
        foreach (var t in txs)
        {
            table.AddRow(Markup.Escape(t.Hash[..16] + "…"), Markup.Escape(t.Type), Markup.Escape(t.From), Markup.Escape(t.Summary()));
        }
        return table;
    }
}
