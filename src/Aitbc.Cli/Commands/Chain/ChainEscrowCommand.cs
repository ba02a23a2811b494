using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Interaction;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainEscrowCommand : CliCommand
{
    private readonly Argument<string> _job = new("JOBID") { Description = "The job whose escrow to show." };

    public ChainEscrowCommand() : base("escrow", "A job's escrow on chain: locked, settled or refunded.", "aitbc chain escrow job_7f3a…")
    {
        Arguments.Add(_job);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var job = ctx.Parse.GetValue(_job)!;
        var e = await ctx.Node.EscrowAsync(job, ct) ?? throw new CliException(ExitCodes.NotFound, $"no escrow for job '{job}' in a committed block");
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new EscrowJson(e.JobId, e.Status, e.Client.ToString(), e.Provider.ToString(), AmountJson.Of(e.Amount), AmountJson.Of(e.Paid),
                e.ExpiresAt, e.LockedHeight, e.ClosedHeight, e.Receipt?.ToString()), CliOutput.Default.EscrowJson);
            return 0;
        }
        ctx.Console.WriteFields(
            ("job", e.JobId),
            ("status", e.Status),
            ("client", e.Client.ToString()),
            ("provider", e.Provider.ToString()),
            ("locked", $"{e.Amount.ToAitString()} AIT at height {e.LockedHeight}"),
            ("paid", $"{e.Paid.ToAitString()} AIT"),
            ("expires", Time.Format(e.ExpiresAt)),
            ("closed at", e.ClosedHeight?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("receipt", e.Receipt?.ToString()));
        return 0;
    }
}
