using System.Diagnostics;
using Aitbc.Cli.Abstractions;
using Aitbc.Cli.Interaction;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Wallet.Client;

namespace Aitbc.Cli.Devnet;

/// <summary>The ports a devnet listens on: DESIGN's by default.</summary>
internal sealed record DevnetPorts(int Node = 8006, int Wallet = 8015, int Coordinator = 8000, int Provider = 8008)
{
    public static DevnetPorts AnyFree() => new(Ports.Free(), Ports.Free(), Ports.Free(), Ports.Free());

    public int Of(string service) => service switch
    {
        "node" => Node,
        "wallet" => Wallet,
        "coordinator" => Coordinator,
        _ => Provider,
    };
}

/// <summary>
/// Brings a devnet up as background processes of the built executables (node, wallet daemon, coordinator, one
/// provider), waits until each is healthy, and takes it down again by its own pid files only.
/// </summary>
internal sealed class DevnetRunner(DevnetHome home, CliConsole console)
{
    public static readonly Dictionary<string, string> Executables = new(StringComparer.Ordinal)
    {
        ["node"] = "aitbc-node",
        ["wallet"] = "aitbc-wallet",
        ["coordinator"] = "aitbc-coordinator",
        ["provider"] = "aitbc-ai-serve",
    };

    /// <summary>The devnet's two wallets, made and funded by <c>up</c>.</summary>
    public static readonly string[] Wallets = ["client", "provider"];

    public async Task<DevnetState> UpAsync(DevnetPorts ports, Uri ollama, bool reset, CancellationToken ct)
    {
        var running = home.Running();
        if (running.Count > 0)
        {
            throw new CliException(ExitCodes.Failed,
                $"a devnet is already running in {home.Root} ({string.Join(", ", running.Select(r => $"{r.Key} pid {r.Value.Pid}"))}); `aitbc devnet status` shows it, `aitbc devnet down` stops it",
                "devnet_running");
        }
        if (reset && Directory.Exists(home.Root))
        {
            Directory.Delete(home.Root, recursive: true);
        }
        foreach (var s in DevnetHome.Order)
        {
            var port = ports.Of(s);
            if (!Ports.IsFree(port))
            {
                throw new CliException(ExitCodes.Failed, $"port {port} (the devnet's {s}) is in use by {Ports.Holder(port) ?? "another process"}", "port_busy");
            }
        }
        var executables = DevnetHome.Order.ToDictionary(s => s, s => ServiceExecutables.Require(Executables[s]), StringComparer.Ordinal);
        home.Create();
        var services = DevnetHome.Order.Select(s => new DevnetService(s, Executables[s], ports.Of(s))).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var node = services["node"].Url.ToString();
        try
        {
            await StartAsync(services["node"], executables["node"], ["--data-dir", home.DataOf("node"), "--rpc-port", Port(ports.Node), "--faucet-cooldown", "0"], ct);
            await StartAsync(services["wallet"], executables["wallet"],
                ["--keystore", home.Keystore, "--port", Port(ports.Wallet), "--node", node, "--kdf-passes", "1", "--kdf-memory", "8192"], ct);
            using var nodeHttp = new HttpClient { BaseAddress = services["node"].Url, Timeout = TimeSpan.FromSeconds(60) };
            var chain = new NodeClient(nodeHttp);
            var status = await chain.StatusAsync(ct);
            var addresses = new Dictionary<string, Address>(StringComparer.Ordinal);
            foreach (var w in Wallets)
            {
                addresses[w] = await EnsureWalletAsync(services["wallet"].Url, w, ct);
                if ((await chain.AccountAsync(addresses[w], ct)).Balance.IsZero)
                {
                    console.Info($"  funding wallet '{w}' ({addresses[w]}) from the faucet");
                    if ((await chain.FaucetAsync(addresses[w], null, waitForCommit: true, ct)).Problem is { } p)
                    {
                        throw new CliException(ExitCodes.Failed, $"the faucet refused to fund '{w}': {p}");
                    }
                }
            }
            await StartAsync(services["coordinator"], executables["coordinator"],
                ["--connection-string", Path.Combine(home.DataOf("coordinator"), "coordinator.db"), "--port", Port(ports.Coordinator), "--node", node], ct);
            var backend = await OllamaAnswersAsync(ollama, ct) ? "ollama" : "dev-echo";
            await StartAsync(services["provider"], executables["provider"],
                ["--coordinator", services["coordinator"].Url.ToString(), "--node", node, "--backend", backend, "--backend-url", ollama.ToString(),
                 "--keystore", home.Keystore, "--wallet", "provider", "--password-file", home.SecretOf("provider"),
                 "--data-dir", home.DataOf("provider"), "--port", Port(ports.Provider), "--grace", "5"], ct);
            await WaitForProviderAsync(services["coordinator"].Url, addresses["provider"], ct);
            var state = new DevnetState([.. DevnetHome.Order.Select(s => services[s])], backend, status.ChainId);
            home.WriteState(state);
            return state;
        }
        catch
        {
            await DownAsync();
            throw;
        }
    }

    /// <summary>Stops what this devnet's pid files name (provider first, node last): SIGTERM, then SIGKILL after a while.</summary>
    public async Task<IReadOnlyList<(string Service, int Pid, bool Stopped)>> DownAsync()
    {
        var stopped = new List<(string, int, bool)>();
        foreach (var s in DevnetHome.Order.Reverse())
        {
            if (ServiceProcess.Read(home.PidOf(s)) is { } p)
            {
                var gone = await p.StopAsync(TimeSpan.FromSeconds(s == "provider" ? 10 : 5));
                stopped.Add((s, p.Pid, gone));
            }
            if (File.Exists(home.PidOf(s)) && ServiceProcess.Read(home.PidOf(s)) is null)
            {
                File.Delete(home.PidOf(s));
            }
        }
        return stopped;
    }

    private async Task StartAsync(DevnetService service, string executable, IReadOnlyList<string> args, CancellationToken ct)
    {
        console.Info($"  starting {service.Name,-12} {service.Url}");
        var process = ServiceProcess.Start(executable, args, home.LogOf(service.Name), home.PidOf(service.Name));
        using var http = new HttpClient { BaseAddress = service.Url, Timeout = TimeSpan.FromSeconds(5) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (!process.Alive)
            {
                throw new CliException(ExitCodes.Failed, $"{service.Executable} exited while starting; its log ({home.LogOf(service.Name)}) ends:\n{Tail(home.LogOf(service.Name), 15)}");
            }
            try
            {
                using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), ct);
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // Listening, not answering yet.
            }
            await Task.Delay(200, ct);
        }
        throw new CliException(ExitCodes.Failed, $"{service.Executable} did not become healthy in 90 s; see {home.LogOf(service.Name)}");
    }

    /// <summary>The wallet's address, creating it in the daemon first when it is not there (its password kept in secrets/).</summary>
    private async Task<Address> EnsureWalletAsync(Uri daemon, string name, CancellationToken ct)
    {
        var wallets = WalletClient.FromCookieFile(daemon, home.Cookie, TimeSpan.FromSeconds(60));
        try
        {
            return (await wallets.GetAsync(name, ct)).Address;
        }
        catch (WalletException e) when (e.Problem.Code == "not_found")
        {
            console.Info($"  creating wallet '{name}' (password in {home.SecretOf(name)})");
        }
        try
        {
            return (await wallets.CreateAsync(new CreateWalletRequest(name, home.SecretFor(name)), ct)).Address;
        }
        catch (WalletException e)
        {
            throw new CliException(ExitCodes.Failed, $"the wallet daemon refused to create '{name}': {e.Problem}");
        }
    }

    private async Task WaitForProviderAsync(Uri coordinator, Address provider, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(10) };
        var market = new MarketClient(http);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (await market.ProviderAsync(provider, ct) is { Status: "online", Offers.Count: > 0 })
            {
                return;
            }
            await Task.Delay(200, ct);
        }
        throw new CliException(ExitCodes.Failed, $"the provider did not come online at the coordinator in 60 s; see {home.LogOf("provider")}");
    }

    private static async Task<bool> OllamaAnswersAsync(Uri ollama, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = ollama, Timeout = TimeSpan.FromSeconds(1) };
        try
        {
            using var r = await http.GetAsync(new Uri("/api/tags", UriKind.Relative), ct);
            return r.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public static string Tail(string file, int lines) =>
        File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(lines)) : "(no log)";

    private static string Port(int p) => p.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
