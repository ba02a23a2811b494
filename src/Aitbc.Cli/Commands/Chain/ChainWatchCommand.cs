using System.CommandLine;
using Aitbc.Cli.Interaction;
using Aitbc.Node.Client;
using Spectre.Console;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainWatchCommand : CliCommand
{
    private readonly Option<string[]> _address = new("--address") { Description = "Also show the transactions of this address (repeatable).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<int?> _blocks = new("--blocks") { Description = "Stop after this many blocks (default: until Ctrl-C)." };

    public ChainWatchCommand() : base("watch", "A live view of new blocks, and of the transactions of watched addresses. With --json, one JSON object per line.",
        "aitbc chain watch --address ait1qxy…")
    {
        Options.Add(_address);
        Options.Add(_blocks);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var addresses = (ctx.Parse.GetValue(_address) ?? []).Select(ParseAddress).ToList();
        var limit = ctx.Parse.GetValue(_blocks);
        await using var events = await NodeEvents.ConnectAsync(ctx.Endpoints.Node, ct);
        await events.SubscribeBlocksAsync(ct);
        foreach (var a in addresses)
        {
            await events.SubscribeTxsAsync(a, ct);
        }
        if (!ctx.Json)
        {
            ctx.Console.Info($"Watching {ctx.Endpoints.Node} for blocks{(addresses.Count > 0 ? $" and the transactions of {string.Join(", ", addresses)}" : "")}; Ctrl-C stops.");
        }
        var seen = 0;
        while (limit is null || seen < limit)
        {
            var e = await events.ReadAsync(ct);
            switch (e)
            {
                case null:
                    ctx.Console.Warn("the node closed the connection");
                    return 1;
                case BlockEvent b:
                    seen++;
                    if (ctx.Json)
                    {
                        ctx.Console.WriteJson(new WatchBlockJson("block", b.Height, b.Hash.ToString(), b.Time, b.Proposer.ToString(), b.TxCount), CliOutput.Lines.WatchBlockJson);
                    }
                    else
                    {
                        ctx.Console.Out.MarkupLine($"[bold]block {b.Height}[/] {b.Hash.ToString()[..16]}… {Time.Format(b.Time)} [grey]{b.TxCount} txs[/]");
                    }
                    break;
                case TxEvent t:
                    var tx = TxJson.Of(t.Tx);
                    if (ctx.Json)
                    {
                        ctx.Console.WriteJson(new WatchTxJson("tx", t.Address.ToString(), t.Height, tx), CliOutput.Lines.WatchTxJson);
                    }
                    else
                    {
                        ctx.Console.Out.MarkupLine($"  [yellow]{Markup.Escape(tx.Type)}[/] {Markup.Escape(tx.Summary())} [grey]({tx.Hash[..16]}…, from {tx.From})[/]");
                    }
                    break;
            }
        }
        return 0;
    }
}
