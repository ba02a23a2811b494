using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Provider.Api;
using Aitbc.Provider.Inference;
using Aitbc.Provider.Jobs;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider;

/// <summary>
/// The provider daemon as a library (the executable, tests and benchmarks start this same object):
/// lists the backend's models, registers them at the coordinator, heartbeats, keeps the dispatch
/// connection, runs paid jobs, and serves its own API. Disposing it shuts down gracefully: no new
/// work, running jobs get the grace period, what cannot finish is refunded.
/// </summary>
public sealed class ProviderServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ProviderContext _ctx;
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _loops;
    private readonly IDisposable[] _owned;

    private ProviderServer(WebApplication app, ProviderContext ctx, CancellationTokenSource stop, Task[] loops, IDisposable[] owned)
    {
        _app = app;
        _ctx = ctx;
        _stop = stop;
        _loops = loops;
        _owned = owned;
    }

    public Uri Uri => new(_app.Urls.First());

    public Address Address => _ctx.Runner.Address;

    public bool ConnectedToCoordinator => _ctx.Link.Connected;

    /// <summary>Dispatched jobs being handled: checked, refused or refunded, run, or with their result's first delivery under way.</summary>
    public int JobsInHand => _ctx.Link.Handling;

    /// <summary>Where results are kept until the coordinator acknowledges them.</summary>
    public string DeliveriesDirectory => _ctx.Deliveries.Directory;

    /// <summary>Where the results of direct-path jobs are kept for their clients.</summary>
    public string DirectResultsDirectory => _ctx.DirectResults.Directory;

    /// <summary>Results acknowledged by the coordinator, and those kept and still being retried.</summary>
    public (long Delivered, int Retrying) Deliveries => (Interlocked.Read(ref _ctx.Deliveries.Delivered), _ctx.Deliveries.Retrying);

    public static IInferenceBackend CreateBackend(ProviderOptions options) => options.Backend switch
    {
        "dev-echo" => new DevEchoBackend(),
        "openai" => new OpenAiCompatibleBackend(new HttpClient { BaseAddress = new Uri(options.BackendUrl), Timeout = Timeout.InfiniteTimeSpan },
            options.BackendApiKey ?? (options.BackendApiKeyFile is { } file ? Secrets.ReadFile(file) : null)),
        _ => new OllamaBackend(new HttpClient { BaseAddress = new Uri(options.BackendUrl), Timeout = Timeout.InfiniteTimeSpan }),
    };

    /// <summary>Starts with the provider's key (which this object does not own) and a backend (which it does).</summary>
    public static Task<ProviderServer> StartAsync(ProviderOptions options, Ed25519Key key, IInferenceBackend backend, TimeProvider? time = null,
        Action<ILoggingBuilder>? logging = null, CancellationToken ct = default) =>
        StartAsync(options, new LocalKeySigner(key), backend, time, logging, ct);

    /// <summary>Starts with a signer (a local key or the wallet daemon) and a backend (which it owns).</summary>
    public static async Task<ProviderServer> StartAsync(ProviderOptions options, IProviderSigner signer, IInferenceBackend backend, TimeProvider? time = null,
        Action<ILoggingBuilder>? logging = null, CancellationToken ct = default)
    {
        var clock = time ?? TimeProvider.System;
        var builder = ServiceHost.CreateBuilder(options.Host, options.Port, logging);
        var meter = builder.AddServiceDefaults(ProviderMetrics.MeterName);
        var metrics = new ProviderMetrics(meter);
        var nodeHttp = new HttpClient { BaseAddress = new Uri(options.Node), Timeout = TimeSpan.FromSeconds(60) };
        var coordinatorHttp = new HttpClient(new SigningHandler(signer.Address, signer.SignRequestAsync, clock)) { BaseAddress = new Uri(options.Coordinator), Timeout = TimeSpan.FromSeconds(60) };
        var node = new NodeClient(nodeHttp);
        var nonces = new NonceSequencer(node, signer.Address);
        var loggers = ServiceHost.CreateLoggerFactory(logging);
        var runner = new JobRunner(backend, node, nonces, signer, options, clock, metrics, loggers.CreateLogger<JobRunner>());
        var deliveries = new ResultDeliveries(coordinatorHttp, node, signer.Address, options, clock, loggers.CreateLogger<ResultDeliveries>());
        var directResults = new ResultDeliveries(coordinatorHttp, node, signer.Address, options, clock, loggers.CreateLogger<ResultDeliveries>(), direct: true);
        var link = new CoordinatorLink(runner, deliveries, coordinatorHttp, signer, options, clock, loggers.CreateLogger<CoordinatorLink>());
        var ctx = new ProviderContext(runner, link, deliveries, directResults, node, options, backend.Name, clock);
        IDisposable[] owned = [ctx, link, deliveries, directResults, runner, nonces, backend, nodeHttp, coordinatorHttp, loggers];
        builder.Services.AddSingleton(ctx);
        ProviderMetrics.Observe(meter, ctx);
        // Ready: the dispatch connection is open, so the coordinator can hand this provider jobs.
        builder.Services.AddHealthChecks().AddCheck("coordinator",
            () => link.Connected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("no dispatch connection to the coordinator"), [PlatformDefaults.Ready]);
        var app = builder.Build();
        try
        {
            PrivateFiles.CreateDirectory(deliveries.Directory);
            await runner.RefreshAsync(ct);
            await link.RegisterAsync(ct);
        }
        catch
        {
            foreach (var d in owned)
            {
                d.Dispose();
            }
            await app.DisposeAsync();
            throw;
        }
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapDefaultEndpoints();
        app.MapGroup("/v1").MapProviderApi();
        await app.StartAsync(ct);
        var stop = new CancellationTokenSource();
        Task[] loops = [link.HeartbeatAsync(stop.Token), link.ConnectAsync(stop.Token, ctx.Stopping)];
        deliveries.Resume();
        return new ProviderServer(app, ctx, stop, loops, owned);
    }

    /// <summary>Graceful shutdown: stop taking work, let running jobs finish within the grace period, stop and refund the rest.</summary>
    public async ValueTask DisposeAsync()
    {
        _ctx.Drain();
        await _stop.CancelAsync();
        foreach (var loop in _loops)
        {
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (!await _ctx.Runner.DrainAsync(TimeSpan.FromSeconds(_ctx.Options.GraceSeconds)))
        {
            await _ctx.AbortJobsAsync();
            await _ctx.Runner.DrainAsync(TimeSpan.FromSeconds(30));
        }
        // A job's slot is free once it is settled or refunded; its result or failure gets its first try to reach the coordinator.
        // Results still not acknowledged then stay on disk, and the next start delivers them.
        for (var waited = 0; _ctx.Link.Handling > 0 && waited < 30_000; waited += 50)
        {
            await Task.Delay(50);
        }
        await _ctx.Deliveries.StopAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var d in _owned)
        {
            d.Dispose();
        }
        _stop.Dispose();
    }
}
