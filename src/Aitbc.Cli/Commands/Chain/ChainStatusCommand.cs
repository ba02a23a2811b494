using Aitbc.Cli.Interaction;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainStatusCommand() : CliCommand("status", "The chain's id, head and fee, from the node.", "aitbc chain status --json")
{
    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var s = await ctx.Node.StatusAsync(ct);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new ChainStatusJson(ctx.Endpoints.Node.ToString(), s.ChainId, s.Height, s.LatestHash.ToString(), s.LatestTime,
                s.GenesisHash.ToString(), AmountJson.Of(s.MinFee), s.Faucet?.ToString()), CliOutput.Default.ChainStatusJson);
            return 0;
        }
        ctx.Console.WriteFields(
            ("node", ctx.Endpoints.Node.ToString()),
            ("chain", s.ChainId),
            ("height", s.Height.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("head", s.LatestHash.ToString()),
            ("head time", Time.Format(s.LatestTime)),
            ("min fee", $"{s.MinFee.ToAitString()} AIT"),
            ("faucet", s.Faucet?.ToString() ?? "none (not a devnet)"));
        return 0;
    }
}
