using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Interaction;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainBlockCommand : CliCommand
{
    private readonly Argument<string> _id = new("HEIGHT|latest|HASH") { Description = "A height, 'latest', or a block hash." };

    public ChainBlockCommand() : base("block", "A committed block and its transactions.", "aitbc chain block latest")
    {
        Arguments.Add(_id);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var id = ctx.Parse.GetValue(_id)!;
        if (id != "latest" && !long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
            && !(id.Length == 64 && Core.Hash256.TryParse(id, out _)))
        {
            throw new CliException(ExitCodes.Usage, $"'{id}' is not a height, 'latest' or a block hash (64 hex digits)");
        }
        var block = await ctx.Node.BlockAsync(id, ct) ?? throw new CliException(ExitCodes.NotFound, $"no committed block {id}");
        var h = block.Header;
        var txs = block.Transactions.Select(TxJson.Of).ToList();
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new BlockJson(h.Height, block.Hash.ToString(), h.PrevHash.ToString(), h.Time, h.Proposer.ToString(), h.StateRoot.ToString(), h.TxRoot.ToString(), txs),
                CliOutput.Default.BlockJson);
            return 0;
        }
        ctx.Console.WriteFields(
            ("height", h.Height.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("hash", block.Hash.ToString()),
            ("previous", h.PrevHash.ToString()),
            ("time", Time.Format(h.Time)),
            ("proposer", h.Proposer.ToString()),
            ("state root", h.StateRoot.ToString()),
            ("transactions", txs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (txs.Count > 0)
        {
            ctx.Console.Out.Write(TxJson.Table(txs));
        }
        return 0;
    }
}
