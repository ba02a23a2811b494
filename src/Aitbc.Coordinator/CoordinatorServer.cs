using System.Threading.RateLimiting;
using Aitbc.Coordinator.Admin;
using Aitbc.Coordinator.Auth;
using Aitbc.Coordinator.Chain;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Jobs;
using Aitbc.Coordinator.Providers;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Aitbc.Coordinator;

/// <summary>
/// The coordinator as a library: the executable, the tests and the benchmarks start this same
/// object. EF Core on SQLite (one file) or PostgreSQL (several instances on one database).
/// </summary>
public sealed class CoordinatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CoordinatorServer(WebApplication app) => _app = app;

    public Uri Uri => new(_app.Urls.First());

    public IServiceProvider Services => _app.Services;

    public static async Task<CoordinatorServer> StartAsync(CoordinatorOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? logging = null,
        CancellationToken ct = default)
    {
        ReadSecretFiles(options);
        var builder = ServiceHost.CreateBuilder(options.Host, options.Port, logging);
        var meter = builder.AddServiceDefaults(CoordinatorMetrics.MeterName);
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(sp => new CoordinatorMetrics(meter, sp));
        services.AddSingleton(new MarketClock(time ?? TimeProvider.System));
        services.AddSingleton(sp => new SignedRequests(sp.GetRequiredService<MarketClock>().Time, sp.GetService<ReplayLedger>(), options));
        if (options.Database == DatabaseKind.Postgres)
        {
            services.AddDbContext<PostgresCoordinatorDb>(o => o.UseNpgsql(options.ConnectionString));
            services.AddScoped<CoordinatorDb>(sp => sp.GetRequiredService<PostgresCoordinatorDb>());
            // Several instances may share this database: seen signatures are shared through it.
            services.AddSingleton<ReplayLedger>();
            services.AddHostedService(sp => sp.GetRequiredService<ReplayLedger>());
            // Another instance's changes reach this one's event streams through one poll for all of them.
            services.AddHostedService<JobStatePoller>();
        }
        else
        {
            var path = Path.GetFullPath(options.ConnectionString);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            services.AddDbContext<SqliteCoordinatorDb>(o => o.UseSqlite($"Data Source={path};Pooling=True;Default Timeout=30").AddInterceptors(new SqliteConnectionSetup()));
            services.AddScoped<CoordinatorDb>(sp => sp.GetRequiredService<SqliteCoordinatorDb>());
        }
        services.AddSingleton(new HttpClient { BaseAddress = new Uri(options.Node), Timeout = TimeSpan.FromSeconds(30) });
        services.AddSingleton(sp => new NodeClient(sp.GetRequiredService<HttpClient>()));
        services.Configure<Microsoft.AspNetCore.OpenApi.OpenApiOptions>("v1", OpenApiSchemas.DescribeCoreTypes);
        services.AddSingleton<MarketBook>();
        services.AddSingleton<JobWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<JobWriter>());
        services.AddSingleton<JobEvents>();
        services.AddScoped<JobLifecycle>();
        services.AddSingleton<EventStreamSlots>();
        services.AddSingleton<ProbationQuotes>();
        services.AddSingleton<NewProviderLimits>();
        services.AddSingleton<ProviderRecordCache>();
        services.AddSingleton<ProviderConnections>();
        services.AddSingleton<Dispatcher>();
        services.AddSingleton<ChainFollower>();
        services.AddHostedService(sp => sp.GetRequiredService<ChainFollower>());
        services.AddSingleton<Sweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<Sweeper>());
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, token) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return new ValueTask(Problems.Of(MarketErrors.RateLimited, $"more than {options.RateLimitPerIpPerSecond} requests per second from this network").ExecuteAsync(context.HttpContext));
            };
            // Per client network (an IPv4 address, an IPv6 /64: ClientNetwork), before anything is read or verified:
            // nothing a request claims (an address header) picks its bucket. Signed requests also pass a bucket per verified signer (SignedRequests).
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetTokenBucketLimiter(
                    Aitbc.ServiceDefaults.Networks.ClientNetwork.KeyOf(http),
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.RateLimitPerIpPerSecond * 2,
                        TokensPerPeriod = options.RateLimitPerIpPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
        });
        services.AddHealthChecks()
            .AddCheck<DatabaseCheck>("database", tags: [PlatformDefaults.Ready])
            .AddCheck<ChainCheck>("chain", tags: [PlatformDefaults.Ready]);

        var app = builder.Build();
        // Its gauges are there from the first scrape, before anything was dispatched.
        app.Services.GetRequiredService<CoordinatorMetrics>();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            await db.Database.MigrateAsync(ct);
            if (options.Database == DatabaseKind.Sqlite)
            {
                // Persistent in the file: readers no longer block the writer, and a commit is one append.
                await db.Database.ExecuteSqlRawAsync(SqliteConnectionSetup.JournalMode, ct);
            }
        }
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        app.UseRateLimiter();
        app.MapDefaultEndpoints();
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "docs";
            o.SwaggerEndpoint("/openapi/v1.json", "AITBC coordinator v1");
        });
        app.MapGroup("/v1").MapProvidersApi().MapJobsApi().MapDispatchApi().MapAdminApi();
        await app.StartAsync(ct);
        return new CoordinatorServer(app);
    }

    /// <summary>Secrets given as files (<c>--admin-token-file</c>, <c>--connection-string-file</c>): the first line of each, so no flag or environment holds them.</summary>
    private static void ReadSecretFiles(CoordinatorOptions options)
    {
        if (options.AdminTokenFile is { Length: > 0 } tokenFile)
        {
            if (!string.IsNullOrEmpty(options.AdminToken))
            {
                throw new InvalidOperationException("give the admin token or its file, not both");
            }
            options.AdminToken = FirstLine(tokenFile, "admin token");
        }
        if (options.ConnectionStringFile is { Length: > 0 } connectionFile)
        {
            options.ConnectionString = FirstLine(connectionFile, "connection string");
        }
    }

    private static string FirstLine(string path, string what)
    {
        // The message names the file, never its content.
        var line = File.Exists(path) ? File.ReadLines(path).FirstOrDefault()?.Trim() : throw new InvalidOperationException($"the {what} file {path} does not exist");
        return string.IsNullOrEmpty(line) ? throw new InvalidOperationException($"the {what} file {path} is empty") : line;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class ChainCheck(ChainFollower follower) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(follower.Connected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("not following the chain's escrows"));
    }

    private sealed class DatabaseCheck(CoordinatorDb db) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            await db.Database.CanConnectAsync(cancellationToken) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("the database cannot be reached");
    }
}
