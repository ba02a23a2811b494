using System.CommandLine;
using Aitbc.Cli.Interaction;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainAccountCommand : CliCommand
{
    private readonly Argument<string> _address = new("ADDRESS") { Description = "An address (ait1…)." };

    public ChainAccountCommand() : base("account", "An account's balance and nonces.", "aitbc chain account ait1qxy…")
    {
        Arguments.Add(_address);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var address = ParseAddress(ctx.Parse.GetValue(_address)!);
        var a = await ctx.Node.AccountAsync(address, ct);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new AccountJson(a.Address.ToString(), AmountJson.Of(a.Balance), a.Nonce, a.NextNonce, a.Pending, a.Height), CliOutput.Default.AccountJson);
            return 0;
        }
        ctx.Console.WriteFields(
            ("address", a.Address.ToString()),
            ("balance", $"{a.Balance.ToAitString()} AIT"),
            ("nonce", a.Nonce.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("next nonce", a.NextNonce.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("pending", a.Pending.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("at height", a.Height.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return 0;
    }
}
