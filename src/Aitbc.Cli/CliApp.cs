using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Commands;
using Aitbc.Cli.Commands.Chain;
using Aitbc.Cli.Commands.Devnet;

namespace Aitbc.Cli;

/// <summary>The root command: the groups, the global options, plugins and external commands, and the exit codes.</summary>
internal static class CliApp
{
    public const string Description = """
        aitbc — the AITBC command line: a GPU compute market for AI agents, paid on the Brother Chain.

        Settings: ~/.aitbc/config.json (profiles; `aitbc config`), then AITBC_* environment variables, then flags.
        --json prints one JSON document on stdout and never prompts; people's text goes to stderr.

        Exit codes: 0 ok, 1 failed, 2 bad usage, 3 not found, 4 refused (policy, funds, price).
        """;

    public static RootCommand Build()
    {
        var root = new RootCommand(Description);
        GlobalOptions.AddTo(root);
        root.Subcommands.Add(ChainCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create());
        root.Subcommands.Add(DevnetCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        if (args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0]) && ExternalCommand.Find(args[0]) is { } external)
        {
            return await ExternalCommand.RunAsync(external, args[1..]);
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                Console.Error.WriteLine($"error: {e.Message}");
            }
            Console.Error.WriteLine($"See `{string.Join(' ', CommandPath(parse.CommandResult.Command))} --help`.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync();
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new List<string>();
        for (var c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Insert(0, c is RootCommand ? "aitbc" : c.Name);
        }
        return names;
    }
}
