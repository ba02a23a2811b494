using System.CommandLine;

namespace Aitbc.Cli.Abstractions;

/// <summary>
/// A plugin of <c>aitbc</c>: a .NET assembly in <c>~/.aitbc/plugins/NAME/</c> with one public, parameterless class
/// implementing this. It is loaded in its own load context and adds its commands to the root command.
/// </summary>
public interface IAitbcPlugin
{
    /// <summary>The plugin's name, as <c>aitbc plugin list</c> shows it.</summary>
    string Name { get; }

    /// <summary>Adds the plugin's commands. Called once, before the command line is parsed.</summary>
    void Register(IPluginContext context);
}

/// <summary>What <c>aitbc</c> gives a plugin: a place for its commands, the configured endpoints and the consoles.</summary>
public interface IPluginContext
{
    /// <summary>Adds a top-level command (<c>aitbc NAME …</c>). A name already taken is refused.</summary>
    void AddCommand(Command command);

    /// <summary>The endpoints of the current profile, after environment and flags.</summary>
    CliEndpoints Endpoints { get; }

    /// <summary>An HTTP client for the node's RPC (<see cref="CliEndpoints.Node"/>).</summary>
    HttpClient NodeHttp { get; }

    /// <summary>Data on stdout, people's text on stderr, one JSON document with --json.</summary>
    ICliInteraction Interaction { get; }
}

/// <summary>The services a profile points at.</summary>
public sealed record CliEndpoints(Uri Node, Uri Coordinator, Uri WalletDaemon, string? DefaultWallet);

/// <summary>How a command talks to people and agents: data to stdout, everything else to stderr.</summary>
public interface ICliInteraction
{
    /// <summary>Whether --json was given: one JSON document on stdout, no prompt, no decoration.</summary>
    bool Json { get; }

    /// <summary>Writes a line of data to stdout (not in --json mode, where the command writes its document instead).</summary>
    void WriteData(string line);

    /// <summary>Writes a line for people to stderr (Spectre markup is escaped).</summary>
    void Info(string line);

    /// <summary>Writes the command's one JSON document to stdout.</summary>
    void WriteJson<T>(T document);
}

/// <summary>The exit codes of <c>aitbc</c>, the same for plugins.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Refused = 4;
}

/// <summary>A failure a command reports with an exit code and a message for people (stderr).</summary>
public sealed class CliException(int exitCode, string message, string? code = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>A stable code for agents (a problem-details code when a service gave one).</summary>
    public string Code { get; } = code ?? exitCode switch
    {
        ExitCodes.Usage => "bad_usage",
        ExitCodes.NotFound => "not_found",
        ExitCodes.Refused => "refused",
        _ => "failed",
    };
}
