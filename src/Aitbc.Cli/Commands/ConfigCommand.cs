using System.CommandLine;
using System.Text.Json.Serialization;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Config;
using Spectre.Console;
using Profile = Aitbc.Cli.Config.Profile;

namespace Aitbc.Cli.Commands;

/// <summary><c>aitbc config show|use|set</c>: the profiles of <c>~/.aitbc/config.json</c>.</summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var config = new Command("config", "Profiles of endpoints and a default wallet, in ~/.aitbc/config.json.");
        config.Subcommands.Add(new ConfigShowCommand());
        config.Subcommands.Add(new ConfigUseCommand());
        config.Subcommands.Add(new ConfigSetCommand());
        return config;
    }
}

internal sealed record ProfileJson(string Name, bool Current, string Node, string Coordinator, string WalletDaemon, string? DefaultWallet);

internal sealed record ConfigJson(string File, string Current, IReadOnlyList<ProfileJson> Profiles, ResolvedJson Effective);

/// <summary>What a command would use now, after the environment and flags.</summary>
internal sealed record ResolvedJson(string Node, string Coordinator, string WalletDaemon, string? DefaultWallet);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(ConfigJson))]
internal sealed partial class ConfigOutput : JsonSerializerContext;

internal sealed class ConfigShowCommand() : CliCommand("show", "The profiles, the current one, and the endpoints a command uses now (after AITBC_* and flags).", "aitbc config show --json")
{
    protected override Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var c = ctx.Config;
        var profiles = c.Profiles.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new ProfileJson(p.Key, p.Key == c.Current,
            p.Value.Node ?? CliConfig.DefaultNode, p.Value.Coordinator ?? CliConfig.DefaultCoordinator, p.Value.WalletDaemon ?? CliConfig.DefaultWalletDaemon, p.Value.DefaultWallet)).ToList();
        var e = ctx.Endpoints;
        var effective = new ResolvedJson(e.Node.ToString(), e.Coordinator.ToString(), e.WalletDaemon.ToString(), e.DefaultWallet);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new ConfigJson(CliConfig.FilePath, c.Current, profiles, effective), ConfigOutput.Default.ConfigJson);
            return Task.FromResult(0);
        }
        var table = new Table().AddColumn("profile").AddColumn("node").AddColumn("coordinator").AddColumn("wallet daemon").AddColumn("default wallet");
        foreach (var p in profiles)
        {
            table.AddRow(Markup.Escape((p.Current ? "* " : "  ") + p.Name), Markup.Escape(p.Node), Markup.Escape(p.Coordinator),
                Markup.Escape(p.WalletDaemon), Markup.Escape(p.DefaultWallet ?? "—"));
        }
        ctx.Console.Out.Write(table);
        ctx.Console.Info($"{CliConfig.FilePath}; now in use: node {e.Node}, coordinator {e.Coordinator}, wallet daemon {e.WalletDaemon}");
        return Task.FromResult(0);
    }
}

internal sealed class ConfigUseCommand : CliCommand
{
    private readonly Argument<string> _name = new("PROFILE") { Description = "The profile to make current." };

    public ConfigUseCommand() : base("use", "Makes a profile the current one.", "aitbc config use devnet")
    {
        Arguments.Add(_name);
    }

    protected override Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var name = ctx.Parse.GetValue(_name)!;
        var c = ctx.Config;
        _ = c.Profile(name);
        c.Current = name;
        c.Save();
        ctx.Console.Info($"Profile '{name}' is now current.");
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new { current = name });
        }
        return Task.FromResult(0);
    }
}

internal sealed class ConfigSetCommand : CliCommand
{
    private readonly Argument<string> _key = new("KEY") { Description = $"One of {string.Join(", ", Profile.Keys)}." };
    private readonly Argument<string?> _value = new("VALUE") { Description = "The value; none clears it.", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _in = new("--in") { Description = "The profile to change (created when new; default: the current one)." };

    public ConfigSetCommand() : base("set", "Sets a setting of a profile.", "aitbc config set node http://10.0.0.5:8006 --in lab")
    {
        Arguments.Add(_key);
        Arguments.Add(_value);
        Options.Add(_in);
    }

    protected override Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var c = ctx.Config;
        var name = ctx.Parse.GetValue(_in) ?? c.Current;
        if (name.Length == 0 || name.Any(ch => !char.IsAsciiLetterOrDigit(ch) && ch is not ('-' or '_')))
        {
            throw new CliException(ExitCodes.Usage, $"'{name}' is not a profile name (letters, digits, - and _)");
        }
        if (!c.Profiles.TryGetValue(name, out var profile))
        {
            c.Profiles[name] = profile = new Profile();
        }
        var (key, value) = (ctx.Parse.GetValue(_key)!, ctx.Parse.GetValue(_value));
        profile.Set(key, value);
        c.Save();
        ctx.Console.Info(value is null ? $"Cleared {key} in profile '{name}'." : $"Set {key} = {value} in profile '{name}'.");
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new { profile = name, key, value });
        }
        return Task.FromResult(0);
    }
}
