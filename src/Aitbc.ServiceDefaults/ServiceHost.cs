using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aitbc.ServiceDefaults;

/// <summary>
/// What every service's web host is built on: logging (single-line console, or the caller's), Kestrel on
/// one address without a server header, and JSON that leaves out nulls. The rest every service shares
/// (problem details, OpenAPI, health, metrics, traces) is <see cref="PlatformDefaults"/>.
/// </summary>
public static class ServiceHost
{
    public static WebApplicationBuilder CreateBuilder(string host, int port, Action<ILoggingBuilder>? logging, Action<KestrelServerOptions>? kestrel = null)
    {
        // The services' settings come from HostConfiguration; the host's own configuration is read once and not
        // watched: a watcher on the working folder wakes on every write to a database file below it.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        ConfigureLogging(builder.Logging, logging);
        builder.WebHost.UseKestrel(k =>
        {
            k.AddServerHeader = false;
            kestrel?.Invoke(k);
        });
        builder.WebHost.UseUrls($"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}");
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        return builder;
    }

    /// <summary>Loggers for parts made before the host is built, configured as the host's are.</summary>
    public static ILoggerFactory CreateLoggerFactory(Action<ILoggingBuilder>? logging) => LoggerFactory.Create(l => ConfigureLogging(l, logging));

    private static void ConfigureLogging(ILoggingBuilder builder, Action<ILoggingBuilder>? logging)
    {
        if (logging is null)
        {
            builder.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning);
        }
        else
        {
            logging(builder);
        }
    }
}
