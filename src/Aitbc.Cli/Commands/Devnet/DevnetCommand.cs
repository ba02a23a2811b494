using System.CommandLine;
using System.Text.Json.Serialization;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Config;
using Aitbc.Cli.Devnet;
using Aitbc.Coordinator.Client;
using Spectre.Console;
using Profile = Aitbc.Cli.Config.Profile;

namespace Aitbc.Cli.Commands.Devnet;

/// <summary><c>aitbc devnet up|down|status|logs|demo</c>: a development network of background processes in <c>~/.aitbc/devnet/</c>.</summary>
internal static class DevnetCommand
{
    public static Command Create()
    {
        var devnet = new Command("devnet", "A development network on this machine: node, wallet daemon, coordinator and one provider, as background processes.");
        devnet.Subcommands.Add(new DevnetUpCommand());
        devnet.Subcommands.Add(new DevnetDownCommand());
        devnet.Subcommands.Add(new DevnetStatusCommand());
        devnet.Subcommands.Add(new DevnetLogsCommand());
        devnet.Subcommands.Add(DevnetDemoCommand.Create());
        return devnet;
    }
}

internal sealed record DevnetServiceJson(string Name, string Url, int? Pid, bool Healthy);

internal sealed record DevnetStatusJson(IReadOnlyList<DevnetServiceJson> Services, string Profile, string? Backend, string? ChainId, long? Height, int? ProvidersOnline);

internal sealed record DevnetDownJson(IReadOnlyList<DevnetStoppedJson> Stopped);

internal sealed record DevnetStoppedJson(string Name, int Pid, bool Stopped);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DevnetStatusJson))]
[JsonSerializable(typeof(DevnetDownJson))]
internal sealed partial class DevnetOutput : JsonSerializerContext;

internal sealed class DevnetUpCommand : CliCommand
{
    public const string ProfileName = "devnet";

    private readonly Option<int> _validators = new("--validators") { Description = "Validators (this release runs one).", DefaultValueFactory = _ => 1 };
    private readonly Option<string> _ollama = new("--ollama") { Description = "Ollama's address; used when it answers, else the development model.", DefaultValueFactory = _ => "http://127.0.0.1:11434" };
    private readonly Option<bool> _reset = new("--reset") { Description = "Delete the devnet's data first: a new chain, new wallets." };
    private readonly Option<int?> _basePort = new("--base-port") { Description = "Listen on BASE, BASE+1, BASE+2, BASE+3 (node, wallet, coordinator, provider) instead of 8006, 8015, 8000, 8008." };

    public DevnetUpCommand() : base("up", "Starts node, wallet daemon, coordinator and a provider in the background, waits until all are healthy, makes and funds the wallets 'client' and 'provider', and makes the 'devnet' profile current.",
        "aitbc devnet up")
    {
        Options.Add(_validators);
        Options.Add(_ollama);
        Options.Add(_reset);
        Options.Add(_basePort);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        if (ctx.Parse.GetValue(_validators) != 1)
        {
            throw new CliException(ExitCodes.Usage, "this release runs a devnet of one validator (--validators 1)");
        }
        if (!CliConfig.IsHttpUrl(ctx.Parse.GetValue(_ollama)!))
        {
            throw new CliException(ExitCodes.Usage, $"--ollama '{ctx.Parse.GetValue(_ollama)}' is not an http(s) URL");
        }
        var ports = ctx.Parse.GetValue(_basePort) is { } b
            ? b is > 0 and < 65533 ? new DevnetPorts(b, b + 1, b + 2, b + 3) : throw new CliException(ExitCodes.Usage, "--base-port must be from 1 to 65532")
            : new DevnetPorts();
        var home = DevnetHome.Default;
        ctx.Console.Info($"AITBC devnet in {home.Root}");
        var state = await new DevnetRunner(home, ctx.Console).UpAsync(ports, new Uri(ctx.Parse.GetValue(_ollama)!), ctx.Parse.GetValue(_reset), ct);
        var config = ctx.Config;
        config.Profiles[ProfileName] = new Profile
        {
            Node = state.Services[0].Url.ToString(),
            WalletDaemon = state.Services[1].Url.ToString(),
            Coordinator = state.Services[2].Url.ToString(),
            Keystore = home.Keystore,
            DefaultWallet = "client",
        };
        config.Current = ProfileName;
        config.Save();
        if (state.Backend == "dev-echo")
        {
            ctx.Console.Warn("No Ollama answered: the provider serves aitbc/dev-echo, the DEVELOPMENT model (a deterministic echo, no inference).");
        }
        ctx.Console.Success($"The devnet is up; profile '{ProfileName}' is current, so every aitbc command now uses it. `aitbc devnet down` stops it.");
        return await DevnetStatusCommand.ReportAsync(ctx, home, ct);
    }
}

internal sealed class DevnetDownCommand() : CliCommand("down", "Stops the devnet's processes (SIGTERM, then SIGKILL), by its own pid files only; its data stays.", "aitbc devnet down")
{
    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var stopped = await new DevnetRunner(DevnetHome.Default, ctx.Console).DownAsync();
        if (ctx.Json)
        {
            ctx.Console.WriteJson(new DevnetDownJson([.. stopped.Select(s => new DevnetStoppedJson(s.Service, s.Pid, s.Stopped))]), DevnetOutput.Default.DevnetDownJson);
        }
        foreach (var (service, pid, gone) in stopped)
        {
            ctx.Console.Info($"  {service,-12} pid {pid} {(gone ? "stopped" : "STILL RUNNING")}");
        }
        ctx.Console.Info(stopped.Count == 0 ? "No devnet process was running." : "The devnet is down; its data stays (`aitbc devnet up` resumes it, `--reset` starts anew).");
        return stopped.All(s => s.Stopped) ? 0 : 1;
    }
}

internal sealed class DevnetStatusCommand() : CliCommand("status", "Each devnet service's process and health, the chain's height and the providers online.", "aitbc devnet status --json")
{
    protected override Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct) => ReportAsync(ctx, DevnetHome.Default, ct);

    public static async Task<int> ReportAsync(CliContext ctx, DevnetHome home, CancellationToken ct)
    {
        var state = home.ReadState() ?? throw new CliException(ExitCodes.NotFound, $"no devnet in {home.Root}; `aitbc devnet up` makes one");
        var running = home.Running();
        var services = new List<DevnetServiceJson>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        foreach (var s in state.Services)
        {
            var pid = running.TryGetValue(s.Name, out var p) ? p.Pid : (int?)null;
            var healthy = false;
            if (pid is not null)
            {
                try
                {
                    using var r = await http.GetAsync(new Uri(s.Url, "/health/ready"), ct);
                    healthy = r.IsSuccessStatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    healthy = false;
                }
            }
            services.Add(new DevnetServiceJson(s.Name, s.Url.ToString(), pid, healthy));
        }
        long? height = null;
        if (services[0].Healthy)
        {
            using var nodeHttp = new HttpClient { BaseAddress = state.Services[0].Url, Timeout = TimeSpan.FromSeconds(5) };
            height = (await new Node.Client.NodeClient(nodeHttp).StatusAsync(ct)).Height;
        }
        int? online = services[2].Healthy ? await ProvidersOnlineAsync(http, state.Services[2].Url, ct) : null;
        var doc = new DevnetStatusJson(services, DevnetUpCommand.ProfileName, state.Backend, state.ChainId, height, online);
        if (ctx.Json)
        {
            ctx.Console.WriteJson(doc, DevnetOutput.Default.DevnetStatusJson);
        }
        else
        {
            var table = new Table().AddColumn("service").AddColumn("url").AddColumn("pid").AddColumn("health");
            foreach (var s in services)
            {
                table.AddRow(s.Name, Markup.Escape(s.Url), s.Pid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "—",
                    s.Healthy ? "[green]healthy[/]" : s.Pid is null ? "[red]not running[/]" : "[yellow]not ready[/]");
            }
            ctx.Console.Out.Write(table);
            ctx.Console.Info($"chain {state.ChainId} at height {height?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}; providers online: {online?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}; backend {state.Backend}");
        }
        return services.All(s => s.Healthy) ? 0 : 1;
    }

    /// <summary>The catalog lists the live offers: a provider online is one with an offer in it.</summary>
    private static async Task<int?> ProvidersOnlineAsync(HttpClient http, Uri coordinator, CancellationToken ct)
    {
        using var market = new HttpClient { BaseAddress = coordinator, Timeout = http.Timeout };
        var catalog = await new MarketClient(market).ModelsAsync(ct);
        return catalog.Models.SelectMany(m => m.Providers).Select(p => p.Address).Distinct(StringComparer.Ordinal).Count();
    }
}

internal sealed class DevnetLogsCommand : CliCommand
{
    private readonly Argument<string?> _service = new("SERVICE") { Description = "node, wallet, coordinator or provider (default: all).", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<bool> _follow = new("--follow", "-f") { Description = "Keep printing as the logs grow (Ctrl-C stops)." };
    private readonly Option<int> _lines = new("--lines", "-n") { Description = "Lines from the end of each log.", DefaultValueFactory = _ => 50 };

    public DevnetLogsCommand() : base("logs", "The devnet services' logs.", "aitbc devnet logs provider -f")
    {
        Arguments.Add(_service);
        Options.Add(_follow);
        Options.Add(_lines);
    }

    protected override async Task<int> ExecuteAsync(CliContext ctx, CancellationToken ct)
    {
        var home = DevnetHome.Default;
        var service = ctx.Parse.GetValue(_service);
        if (service is not null && !DevnetHome.Order.Contains(service))
        {
            throw new CliException(ExitCodes.Usage, $"no devnet service '{service}'; one of {string.Join(", ", DevnetHome.Order)}");
        }
        var services = service is null ? DevnetHome.Order : [service];
        if (services.All(s => !File.Exists(home.LogOf(s))))
        {
            throw new CliException(ExitCodes.NotFound, $"no devnet logs in {home.Root}; `aitbc devnet up` makes a devnet");
        }
        var positions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in services.Where(s => File.Exists(home.LogOf(s))))
        {
            foreach (var line in File.ReadLines(home.LogOf(s)).TakeLast(ctx.Parse.GetValue(_lines)))
            {
                Write(ctx, s, line, services.Length > 1);
            }
            positions[s] = new FileInfo(home.LogOf(s)).Length;
        }
        while (ctx.Parse.GetValue(_follow) && !ct.IsCancellationRequested)
        {
            foreach (var s in services.Where(s => File.Exists(home.LogOf(s))))
            {
                using var f = new FileStream(home.LogOf(s), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                f.Seek(positions.GetValueOrDefault(s), SeekOrigin.Begin);
                using var reader = new StreamReader(f);
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    Write(ctx, s, line, services.Length > 1);
                }
                positions[s] = f.Position;
            }
            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return 0;
    }

    private static void Write(CliContext ctx, string service, string line, bool prefix) =>
        ctx.Console.WriteData(prefix ? $"{service,-12}| {line}" : line);
}
