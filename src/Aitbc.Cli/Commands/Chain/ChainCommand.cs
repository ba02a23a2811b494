using System.CommandLine;

namespace Aitbc.Cli.Commands.Chain;

/// <summary><c>aitbc chain …</c>: the Brother Chain through its node's RPC.</summary>
internal static class ChainCommand
{
    public static Command Create()
    {
        var chain = new Command("chain", "The Brother Chain: status, blocks, transactions, accounts, escrows, the devnet faucet.");
        chain.Subcommands.Add(new ChainStatusCommand());
        chain.Subcommands.Add(new ChainBlockCommand());
        chain.Subcommands.Add(new ChainTxCommand());
        chain.Subcommands.Add(new ChainAccountCommand());
        chain.Subcommands.Add(new ChainEscrowCommand());
        chain.Subcommands.Add(new ChainFaucetCommand());
        chain.Subcommands.Add(new ChainWatchCommand());
        return chain;
    }
}
