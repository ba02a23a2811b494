using System.CommandLine;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Config;
using Aitbc.Cli.Interaction;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Cli.Commands;

/// <summary>The options every command takes (declared once on the root, recursive).</summary>
internal static class GlobalOptions
{
    public static readonly Option<bool> Json = new("--json") { Description = "Print one JSON document on stdout (for agents); never prompt.", Recursive = true };
    public static readonly Option<string?> Profile = new("--profile") { Description = "The configuration profile to use (default: the current one).", Recursive = true };
    public static readonly Option<string?> Node = new("--node") { Description = "The node's RPC address, over the profile's.", Recursive = true };
    public static readonly Option<string?> Coordinator = new("--coordinator") { Description = "The coordinator's address, over the profile's.", Recursive = true };
    public static readonly Option<string?> WalletDaemon = new("--wallet-daemon") { Description = "The wallet daemon's address, over the profile's.", Recursive = true };

    public static void AddTo(Command root)
    {
        foreach (var o in new Option[] { Json, Profile, Node, Coordinator, WalletDaemon })
        {
            root.Options.Add(o);
        }
    }
}

/// <summary>What a running command has: its consoles, the configuration, the endpoints and the clients made from them.</summary>
internal sealed class CliContext(ParseResult parse, CliConsole console) : IDisposable
{
    private CliConfig? _config;
    private CliEndpoints? _endpoints;
    private HttpClient? _nodeHttp;

    public ParseResult Parse => parse;
    public CliConsole Console => console;
    public bool Json => console.Json;

    public CliConfig Config => _config ??= CliConfig.Load();

    public CliEndpoints Endpoints => _endpoints ??= Config.Resolve(
        parse.GetValue(GlobalOptions.Profile), parse.GetValue(GlobalOptions.Node), parse.GetValue(GlobalOptions.Coordinator), parse.GetValue(GlobalOptions.WalletDaemon));

    public HttpClient NodeHttp => _nodeHttp ??= new HttpClient { BaseAddress = Endpoints.Node, Timeout = TimeSpan.FromSeconds(60) };

    public NodeClient Node => new(NodeHttp);

    public void Dispose() => _nodeHttp?.Dispose();
}

/// <summary>
/// A command of <c>aitbc</c>: parse, call the typed clients, render; the outcome is an exit code. A failure is a
/// <see cref="CliException"/> (or a refusal a service answered), reported on stderr — and with --json as a JSON
/// document on stdout — with the documented exit code.
/// </summary>
internal abstract class CliCommand : Command
{
    protected CliCommand(string name, string description, string example)
        : base(name, $"{description}\n\nExample:\n  {example}")
    {
        SetAction(RunAsync);
    }

    protected abstract Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct);

    private async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var console = new CliConsole(parse.GetValue(GlobalOptions.Json));
        using var ctx = new CliContext(parse, console);
        try
        {
            return await ExecuteAsync(ctx, ct);
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            console.Error(failure.Message);
            if (console.Json)
            {
                console.WriteJson(new ErrorDocument(new ErrorBody(failure.Code, failure.Message, failure.ExitCode)), CliOutput.Default.ErrorDocument);
            }
            return failure.ExitCode;
        }
    }

    /// <summary>The exit code and message of an expected failure; null for a bug, which is not caught.</summary>
    private static CliException? Failure(Exception e) => e switch
    {
        CliException c => c,
        NodeException n => FromProblem(n.Problem, "the node"),
        Coordinator.Client.MarketException m => FromProblem(m.Problem, "the coordinator"),
        Wallet.Client.WalletException w => FromProblem(w.Problem, "the wallet daemon"),
        HttpRequestException h => new CliException(ExitCodes.Failed, $"cannot reach the service: {h.Message}", "unreachable"),
        TaskCanceledException => new CliException(ExitCodes.Failed, "the request timed out", "timeout"),
        OperationCanceledException => new CliException(ExitCodes.Failed, "canceled", "canceled"),
        _ => null,
    };

    /// <summary>A refusal a service answered, as an exit code: 400 bad usage, 404 not found, 402/403/409/422 refused, else failed.</summary>
    public static CliException FromProblem(Problem p, string service) => new(
        p.Status switch
        {
            400 => ExitCodes.Usage,
            404 => ExitCodes.NotFound,
            402 or 403 or 409 or 422 => ExitCodes.Refused,
            _ => ExitCodes.Failed,
        },
        $"{service} refused: {p.Detail ?? p.Title} ({p.Code})", p.Code);

    protected static Address ParseAddress(string text) =>
        Address.TryParse(text, out var a, out var error) ? a : throw new CliException(ExitCodes.Usage, $"'{text}' is not an address: {error}", "invalid_address");

    /// <summary>An amount typed in AIT ("1.5"), or in base units with --base-units.</summary>
    protected static Amount ParseAmount(string text, bool baseUnits)
    {
        var ok = baseUnits ? Amount.TryParse(text, out var a) : Amount.TryParseAit(text, out a);
        return ok ? a : throw new CliException(ExitCodes.Usage,
            baseUnits ? $"'{text}' is not an amount in base units (a whole number)" : $"'{text}' is not an amount in AIT (e.g. 1.5 or 0.000002; at most 9 decimals)", "invalid_amount");
    }
}
