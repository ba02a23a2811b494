using System.Net;
using Aitbc.Node.Client;
using Aitbc.Wallet.Api;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Keystore;
using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aitbc.Wallet;

/// <summary>
/// The wallet daemon as a library (the executable and the tests start this same object): the
/// keystore, the signer with its policies and audit log, and the API on loopback with cookie auth.
/// </summary>
public sealed class WalletServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WalletContext _ctx;
    private readonly CookieAuth _cookie;
    private readonly HttpClient _http;

    private WalletServer(WebApplication app, WalletContext ctx, CookieAuth cookie, HttpClient http)
    {
        _app = app;
        _ctx = ctx;
        _cookie = cookie;
        _http = http;
    }

    public Uri Uri => new(_app.Urls.First());

    public string CookiePath => _cookie.Path;

    public string Token => _cookie.Token;

    public WalletKeystore Keystore => _ctx.Keystore;

    /// <summary>The API's routes, for the tests that check every one of them is guarded.</summary>
    internal IEnumerable<Microsoft.AspNetCore.Routing.RouteEndpoint> Endpoints =>
        _app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints.OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>();

    public static async Task<WalletServer> StartAsync(WalletOptions options, Action<ILoggingBuilder>? logging = null, CancellationToken ct = default)
    {
        if (!IPAddress.TryParse(options.Host, out var ip) || !IPAddress.IsLoopback(ip))
        {
            throw new InvalidOperationException($"The wallet daemon listens on loopback only (it holds keys); '{options.Host}' is not a loopback address.");
        }
        var http = new HttpClient { BaseAddress = new Uri(options.Node), Timeout = TimeSpan.FromSeconds(60) };
        var node = new NodeClient(http);
        string chainId;
        try
        {
            chainId = (await node.StatusAsync(ct)).ChainId;
        }
        catch (HttpRequestException e)
        {
            http.Dispose();
            throw new InvalidOperationException($"The node at {options.Node} cannot be reached: {e.Message}", e);
        }
        var keystore = new WalletKeystore(options.Keystore, new KdfCost(options.KdfPasses, options.KdfMemoryKiB));
        var audit = new AuditLog(keystore, TimeProvider.System);
        var signer = new WalletSigner(keystore, audit, node, chainId, TimeProvider.System, options.MaxRefusalsPerMinute);
        var tokens = new WalletTokens(keystore, options.MaxTokensPerWallet);
        var ctx = new WalletContext(keystore, signer, audit, tokens, node, options);
        var cookie = new CookieAuth(options.CookiePath);
        var guard = new ApiGuard(cookie, tokens, signer, keystore);

        var builder = ServiceHost.CreateBuilder(ip.ToString(), options.Port, logging);
        signer.Observe(builder.AddServiceDefaults("Aitbc.Wallet"));
        builder.Services.AddSingleton(ctx);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // /metrics is behind the same gate as /v1: the Host check and the cookie's token.
        app.MapDefaultEndpoints(metrics => metrics.Use(async (http, next) =>
        {
            if (await guard.InvokeAsync(new DefaultEndpointFilterInvocationContext(http), _ => ValueTask.FromResult<object?>(null)) is Microsoft.AspNetCore.Http.IResult refused)
            {
                await refused.ExecuteAsync(http);
                return;
            }
            await next(http);
        }));
        app.MapGroup("/v1").AddEndpointFilter(guard).MapWalletsApi().MapSigningApi().MapTokensApi().MapAuditApi();
        var started = false;
        try
        {
            await app.StartAsync(ct);
            started = true;
            guard.Port = new Uri(app.Urls.First()).Port;
            // Only now that the port is ours: a second daemon started by mistake fails to bind above and leaves the
            // running daemon's cookie alone.
            cookie.Write();
        }
        catch
        {
            if (started)
            {
                await app.StopAsync(CancellationToken.None);
            }
            await app.DisposeAsync();
            cookie.Dispose();
            signer.Dispose();
            await audit.DisposeAsync();
            http.Dispose();
            throw;
        }
        return new WalletServer(app, ctx, cookie, http);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ctx.Signer.Dispose();
        await _ctx.Audit.DisposeAsync();
        _cookie.Dispose();
        _http.Dispose();
    }
}
