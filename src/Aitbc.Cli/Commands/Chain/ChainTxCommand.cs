using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Interaction;
using Aitbc.Core;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainTxCommand : CliCommand
{
    private readonly Argument<string> _hash = new("HASH") { Description = "The transaction's hash." };
    private readonly Option<bool> _wait = new("--wait") { Description = "Wait for a pending transaction's block." };

    public ChainTxCommand() : base("tx", "A transaction: pending, committed (with its block) or rejected (with the reason).", "aitbc chain tx 3f1c…e9 --wait")
    {
        Arguments.Add(_hash);
        Options.Add(_wait);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var text = ctx.Parse.GetValue(_hash)!;
        if (!Hash256.TryParse(text, out var hash))
        {
            throw new CliException(ExitCodes.Usage, $"'{text}' is not a transaction hash (64 hex digits)", "invalid_hash");
        }
        var tx = await ctx.Node.TxAsync(hash, ctx.Parse.GetValue(_wait), ct)
            ?? throw new CliException(ExitCodes.NotFound, $"the node knows no transaction {hash} (it may never have been admitted)");
        var body = tx.Tx is null ? null : TxJson.Of(tx.Tx);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new TxStatusJson(tx.Hash.ToString(), tx.Status, tx.Height, tx.Index, tx.Reason, body), CliOutput.Default.TxStatusJson);
        }
        else
        {
            ctx.Console.WriteFields(
                ("hash", tx.Hash.ToString()),
                ("status", tx.Status),
                ("block", tx.Height?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("reason", tx.Reason),
                ("type", body?.Type),
                ("from", body?.From),
                ("what", body?.Summary()),
                ("fee", body is null ? null : $"{body.Fee.Ait} AIT"));
        }
        return tx.Status == "rejected" ? ExitCodes.Refused : ExitCodes.Ok;
    }
}
