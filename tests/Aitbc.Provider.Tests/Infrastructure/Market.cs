using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Coordinator;
using Aitbc.Coordinator.Client;
using Aitbc.Node.Client;
using Aitbc.Provider.Inference;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// The market the provider works in, all real and on loopback: a node (<see cref="TestChain"/>) and the
/// coordinator (<see cref="CoordinatorServer"/> on SQLite in a temp folder) following it.
/// Providers and clients are made per test, each with a fresh key and models named for that test,
/// so tests sharing one market never see each other's accounts or jobs.
/// </summary>
public sealed class Market : IAsyncDisposable
{
    public static readonly Amount PriceIn = new(100_000_000);
    public static readonly Amount PriceOut = new(300_000_000);
    private readonly TempDir _dir;
    private readonly HttpClient _coordinatorHttp;

    private readonly CoordinatorOptions _coordinatorOptions;

    private Market(TempDir dir, LogBuffer logs, TestChain chain, CoordinatorServer coordinator, CoordinatorOptions coordinatorOptions)
    {
        _dir = dir;
        Logs = logs;
        Chain = chain;
        Coordinator = coordinator;
        _coordinatorOptions = coordinatorOptions;
        _coordinatorHttp = new HttpClient { BaseAddress = coordinator.Uri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public LogBuffer Logs { get; }

    public TestChain Chain { get; }

    public CoordinatorServer Coordinator { get; private set; }

    /// <summary>Whether the coordinator is up (see <see cref="StopCoordinatorAsync"/>).</summary>
    public bool CoordinatorRunning { get; private set; } = true;

    public string Dir => _dir.Path;

    /// <summary>
    /// The coordinator's escrows expire <paramref name="paymentWindowSeconds"/> + <paramref name="jobTimeoutSeconds"/> after a job is submitted.
    /// With <paramref name="fixedPort"/>, the coordinator keeps its port across <see cref="StopCoordinatorAsync"/> and <see cref="StartCoordinatorAsync"/>.
    /// </summary>
    public static async Task<Market> StartAsync(int paymentWindowSeconds = 120, int jobTimeoutSeconds = 600, bool fixedPort = false)
    {
        var dir = new TempDir();
        var logs = new LogBuffer();
        var chain = await TestChain.StartAsync(dir.Sub("node"), logs);
        var coordinatorOptions = new CoordinatorOptions
        {
            Port = fixedPort ? FreePort() : 0,
            ConnectionString = dir.Sub("coordinator/coordinator.db"),
            Node = chain.RpcUri.ToString(),
            Instance = "provider-tests",
            PaymentWindowSeconds = paymentWindowSeconds,
            JobTimeoutSeconds = jobTimeoutSeconds,
            HeartbeatTimeoutSeconds = 30,
        };
        var coordinator = await CoordinatorServer.StartAsync(coordinatorOptions, logging: logs.AddTo);
        var market = new Market(dir, logs, chain, coordinator, coordinatorOptions);
        await Eventually.TrueAsync(async () =>
        {
            using var r = await market._coordinatorHttp.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return r.StatusCode == HttpStatusCode.OK;
        }, "the coordinator to follow the chain", () => logs.Text);
        return market;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops the coordinator (its database stays); requests to it fail until <see cref="StartCoordinatorAsync"/>.</summary>
    public async Task StopCoordinatorAsync()
    {
        await Coordinator.DisposeAsync();
        CoordinatorRunning = false;
    }

    /// <summary>Starts the coordinator again on the same port and database, and waits until it follows the chain.</summary>
    public async Task StartCoordinatorAsync()
    {
        Assert.NotEqual(0, _coordinatorOptions.Port);
        Coordinator = await CoordinatorServer.StartAsync(_coordinatorOptions, logging: Logs.AddTo);
        CoordinatorRunning = true;
        await Eventually.TrueAsync(async () =>
        {
            using var r = await _coordinatorHttp.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return r.StatusCode == HttpStatusCode.OK;
        }, "the restarted coordinator to follow the chain", () => Logs.Text);
    }

    /// <summary>
    /// A provider's settings for this market: an API on a free port, the default prices, quick
    /// heartbeats, margins that fit the market's escrow windows, and no grace period on shutdown.
    /// </summary>
    public ProviderOptions ProviderOptions(Uri backend) => new()
    {
        Port = 0,
        Coordinator = Coordinator.Uri.ToString(),
        Node = Chain.RpcUri.ToString(),
        Backend = "ollama",
        BackendUrl = backend.ToString(),
        PriceIn = (long)PriceIn.Units,
        PriceOut = (long)PriceOut.Units,
        Concurrency = 2,
        HeartbeatSeconds = 1,
        SettleMarginSeconds = 2,
        MinRunSeconds = 2,
        JobTimeoutSeconds = 60,
        GraceSeconds = 0,
        // Kept results of every provider of this market, each under its own address; retried every second at most.
        DataDir = Path.Combine(Dir, "provider-data"),
        DeliveryRetryMaxSeconds = 1,
    };

    /// <summary>Starts a provider with Ollama (the stand-in) as its backend and waits until its dispatch connection is open.</summary>
    public Task<ProviderServer> StartProviderAsync(Ed25519Key key, OllamaStandIn standIn, Action<ProviderOptions>? configure = null)
    {
        var options = ProviderOptions(standIn.Uri);
        configure?.Invoke(options);
        return StartProviderAsync(key, options, new OllamaBackend(new HttpClient { BaseAddress = standIn.Uri, Timeout = Timeout.InfiniteTimeSpan }));
    }

    public async Task<ProviderServer> StartProviderAsync(Ed25519Key key, ProviderOptions options, IInferenceBackend backend)
    {
        var provider = await ProviderServer.StartAsync(options, key, backend, logging: Logs.AddTo);
        await Eventually.TrueAsync(() => provider.ConnectedToCoordinator, "the provider's dispatch connection", () => Logs.Text);
        return provider;
    }

    /// <summary>A client with a fresh key funded from the faucet.</summary>
    public async Task<MarketAgent> NewClientAsync(Amount funds)
    {
        var client = new MarketAgent(this, Ed25519Key.Generate());
        await Chain.FundAsync(client.Address, funds);
        return client;
    }

    /// <summary>The job as anyone may read it (unsigned).</summary>
    public Task<Job> JobAsync(string id) => new MarketClient(_coordinatorHttp).JobAsync(id);

    /// <summary>Waits until the job reaches one of these states (a final state other than those fails at once).</summary>
    public async Task<Job> WaitForStateAsync(string id, params string[] states) =>
        await Eventually.GetAsync(async () =>
        {
            var job = await JobAsync(id);
            if (states.Contains(job.State))
            {
                return job;
            }
            Assert.False(job.Finished, $"job {id} ended {job.State}, not {string.Join(" | ", states)}: {job}\n{Logs.Text}");
            return null;
        }, $"job {id} to be {string.Join(" | ", states)}", () => Logs.Text);

    public async ValueTask DisposeAsync()
    {
        _coordinatorHttp.Dispose();
        if (CoordinatorRunning)
        {
            await Coordinator.DisposeAsync();
        }
        await Chain.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>An agent renting inference: its key signs its requests (a <see cref="MarketClient"/>) and its escrow locks.</summary>
public sealed class MarketAgent(Market market, Ed25519Key key) : IDisposable
{
    private readonly HttpClient _coordinator = new(new SigningHandler(key)) { BaseAddress = market.Coordinator.Uri, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The coordinator's API, signed by this agent.</summary>
    public MarketClient Coordinator => new(_coordinator);

    public Ed25519Key Key => key;

    public Address Address => key.Address;

    /// <summary><c>POST /v1/jobs</c> with chat messages; answers the job with its provider, price and the escrow.lock to submit.</summary>
    public async Task<Job> SubmitChatAsync(string model, IReadOnlyList<(string Role, string Content)> messages, int maxTokens, ulong maxPrice = 1_000_000_000)
    {
        var job = await Coordinator.SubmitAsync(SubmitJobRequest.OfMessages(model, [.. messages.Select(m => new ChatMessage(m.Role, m.Content))], maxTokens,
            new Amount(maxPrice)));
        Assert.Equal("awaiting_payment", job.State);
        return job;
    }

    /// <summary>Signs and submits exactly the <c>escrow.lock</c> the coordinator asked for.</summary>
    public async Task<SubmitResult> LockAsync(Job job, bool wait = true)
    {
        Assert.Equal(TxTypes.EscrowLock, job.Escrow.Type);
        var result = await market.Chain.SubmitAsync(key, job.Escrow.Body.ToTxBody(), wait);
        Assert.True(wait ? result.Committed : result.Accepted, $"escrow.lock: {result.Status} {result.Problem}");
        return result;
    }

    /// <summary>A job sent straight to a provider's own API (<c>POST /v1/jobs</c>), signed by this client.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> DirectAsync(Uri provider, JsonObject body)
    {
        using var http = new HttpClient(new SigningHandler(key)) { BaseAddress = provider, Timeout = TimeSpan.FromSeconds(60) };
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(new Uri("/v1/jobs", UriKind.Relative), content);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {(int)expected}, got {(int)response.StatusCode} {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    public void Dispose()
    {
        _coordinator.Dispose();
        key.Dispose();
    }
}
