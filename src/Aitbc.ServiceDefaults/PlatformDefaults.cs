using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Aitbc.ServiceDefaults;

/// <summary>
/// What every service adds to its host and maps on its app, once: problem details (with a <c>code</c> also for the
/// problems the framework writes by itself), OpenAPI, health checks (<c>/health/live</c> runs the checks tagged
/// <see cref="Live"/>, <c>/health/ready</c> those tagged <see cref="Ready"/>), metrics through
/// <see cref="System.Diagnostics.Metrics"/> exported by OpenTelemetry as Prometheus text on <c>/metrics</c>, and
/// traces (ASP.NET Core and HttpClient, so a W3C <c>traceparent</c> follows a job from service to service), sent
/// over OTLP only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
public static class PlatformDefaults
{
    /// <summary>The tag of the checks <c>/health/live</c> runs: the process answers, nothing it depends on.</summary>
    public const string Live = "live";

    /// <summary>The tag of the checks <c>/health/ready</c> runs: what the service needs to do its work.</summary>
    public const string Ready = "ready";

    /// <summary>The standard variable that turns the OTLP exporter on.</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// Adds the defaults and returns this server's own <see cref="Meter"/>, named <paramref name="serviceName"/>
    /// (e.g. <c>Aitbc.Node</c>). The meter belongs to this host: several servers in one process (the tests, the
    /// devnet) each export their own figures on their own <c>/metrics</c>, and the meter goes with the host.
    /// </summary>
    public static Meter AddServiceDefaults(this WebApplicationBuilder builder, string serviceName)
    {
        var services = builder.Services;
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            var fallback = c.ProblemDetails.Status switch
            {
                StatusCodes.Status400BadRequest => CommonErrors.InvalidParameter,
                StatusCodes.Status404NotFound => CommonErrors.NotFound,
                StatusCodes.Status413PayloadTooLarge => CommonErrors.PayloadTooLarge,
                StatusCodes.Status415UnsupportedMediaType => CommonErrors.UnsupportedMediaType,
                _ => null,
            };
            if (fallback is not null)
            {
                c.ProblemDetails.Extensions.TryAdd("code", fallback.Code);
                c.ProblemDetails.Detail ??= fallback.Title;
            }
        });
        services.AddOpenApi();
        services.AddHealthChecks().AddCheck("process", () => HealthCheckResult.Healthy(), [Live]);

        // The meters of this host come from its own factory, and only those (MeterScope.Local) are exported: OpenTelemetry's
        // AddMeter would listen to every meter of that name in the process, and a test running three nodes would see their sum.
        var meters = new HostMeters();
        services.AddSingleton<IMeterFactory>(_ => meters);
        builder.Metrics.EnableMetrics(serviceName, null, null, MeterScope.Local);
        builder.Metrics.EnableMetrics("Microsoft.AspNetCore.Hosting", null, null, MeterScope.Local);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(m => m.AddPrometheusExporter(o =>
            {
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            }))
            .WithTracing(t =>
            {
                t.AddSource(serviceName).AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
                if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OtlpEndpointVariable)))
                {
                    // The exporter reads the endpoint, protocol and headers from the standard OTEL_EXPORTER_OTLP_* variables.
                    t.AddOtlpExporter();
                }
            });
        return meters.Create(serviceName);
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c>, <c>/openapi/v1.json</c> and <c>/metrics</c>.
    /// <paramref name="guardMetrics"/> runs before the metrics are written (the wallet daemon checks its token there).
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, Action<IApplicationBuilder>? guardMetrics = null)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Live) });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready) });
        app.MapOpenApi();
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: guardMetrics, optionsName: null);
        return app;
    }

    /// <summary>The meters of one host; disposed with it.</summary>
    private sealed class HostMeters : IMeterFactory
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<(string Name, string? Version), Meter> _shared = [];
        private readonly List<Meter> _all = [];

        public Meter Create(MeterOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            lock (_lock)
            {
                if (options.Tags is null && _shared.TryGetValue((options.Name, options.Version), out var existing))
                {
                    return existing;
                }
                var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
                if (options.Tags is null)
                {
                    _shared[(options.Name, options.Version)] = meter;
                }
                _all.Add(meter);
                return meter;
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                foreach (var meter in _all)
                {
                    meter.Dispose();
                }
                _all.Clear();
                _shared.Clear();
            }
        }
    }
}
