using System.CommandLine;
using Aitbc.Cli;
using Aitbc.Cli.Commands;

// aitbc: the command line of AITBC. Commands not built in run as external programs named
// aitbc-NAME on the PATH (as git and kubectl do): `aitbc ai-serve` runs aitbc-ai-serve.
if (args.Length > 0 && !args[0].StartsWith('-') && ExternalCommand.Find(args[0]) is { } external && !BuiltIn.Names.Contains(args[0]))
{
    return await ExternalCommand.RunAsync(external, args[1..]);
}
var root = new RootCommand("aitbc — the AITBC command line: a GPU compute market for AI agents, paid on the Brother Chain.");
root.Subcommands.Add(DevnetCommand.Create());
return await root.Parse(args).InvokeAsync();

internal static class BuiltIn
{
    public static readonly HashSet<string> Names = ["devnet"];
}
