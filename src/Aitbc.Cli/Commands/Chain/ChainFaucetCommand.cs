using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Interaction;
using Aitbc.Core;

namespace Aitbc.Cli.Commands.Chain;

internal sealed class ChainFaucetCommand : CliCommand
{
    private readonly Argument<string?> _address = new("ADDRESS") { Description = "The address to fund (or --wallet).", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _wallet = new("--wallet") { Description = "Fund this wallet's address." };
    private readonly Option<string?> _amount = new("--amount") { Description = "How much, in AIT (default: the faucet's amount)." };
    private readonly Option<bool> _baseUnits = new("--base-units") { Description = "--amount is in base units, not AIT." };

    public ChainFaucetCommand() : base("faucet", "Devnet only: get AIT from the faucet (a real signed transfer, waited for).", "aitbc chain faucet --wallet me")
    {
        Arguments.Add(_address);
        Options.Add(_wallet);
        Options.Add(_amount);
        Options.Add(_baseUnits);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var (text, wallet) = (ctx.Parse.GetValue(_address), ctx.Parse.GetValue(_wallet));
        if ((text is null) == (wallet is null))
        {
            throw new CliException(ExitCodes.Usage, "name the address to fund, or --wallet NAME (one of the two)");
        }
        var to = wallet is not null ? await Wallets.WalletAccess.AddressOfAsync(wallet) : ParseAddress(text!);
        Amount? amount = ctx.Parse.GetValue(_amount) is { } a ? ParseAmount(a, ctx.Parse.GetValue(_baseUnits)) : null;
        var node = ctx.Node;
        var result = await ctx.Console.StatusAsync("Asking the faucet…", _ => node.FaucetAsync(to, amount, waitForCommit: true, ct));
        if (result.Problem is { } p)
        {
            throw FromProblem(p, "the faucet");
        }
        var account = await node.AccountAsync(to, ct);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new FaucetJson(to.ToString(), result.Hash.ToString(), result.Status, result.Height, AmountJson.Of(account.Balance)), CliOutput.Default.FaucetJson);
        }
        else
        {
            ctx.Console.Success($"Funded {to} (tx {result.Hash}, {result.Status}{(result.Height is { } h ? $" at height {h}" : "")}); balance {account.Balance.ToAitString()} AIT");
        }
        return 0;
    }
}
