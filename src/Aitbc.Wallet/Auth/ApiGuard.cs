using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Aitbc.Wallet.Api;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aitbc.Wallet.Auth;

/// <summary>Marks an endpoint a wallet-scoped token may call (for its own wallet only, the route's <c>{name}</c>).</summary>
internal sealed class WalletTokenAllowed
{
    public static readonly WalletTokenAllowed Instance = new();
}

internal static class WalletTokenAllowedExtensions
{
    public static TBuilder AllowWalletToken<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(WalletTokenAllowed.Instance);
}

/// <summary>
/// The one gate of the <c>/v1</c> route group, an endpoint filter on the group itself, so that it runs for every
/// endpoint routing matched there, however the path was cased or encoded (the prefix test it replaces compared
/// the path case-sensitively, and <c>/V1/wallets</c> went through). In order:
/// the <c>Host</c> header must name loopback with the daemon's port (a DNS-rebound page sends its own name);
/// the caller must show the cookie's token (everything) or a wallet token (its wallet's signing endpoints only);
/// a request with a body, or a content type, must be <c>application/json</c> (no "simple" cross-site POST).
/// The handlers under it take no body-bound parameters, so nothing of the request is read before this runs.
/// </summary>
internal sealed class ApiGuard(CookieAuth cookie, WalletTokens tokens, WalletSigner signer, WalletKeystore keystore) : IEndpointFilter
{
    /// <summary>The port the daemon listens on, known once it has started (the options may say 0).</summary>
    public int Port { get; set; } = -1;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var request = http.Request;
        if (!IsLoopbackHost(request.Host))
        {
            return Problems.Of(WalletErrors.Get("invalid_host"),
                $"the wallet daemon answers only requests addressed to localhost, 127.0.0.1 or [::1] on port {Port}");
        }
        var header = request.Headers.Authorization.ToString().AsSpan();
        var given = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : [];
        if (given.IsEmpty || !cookie.Matches(given))
        {
            if (given.IsEmpty || tokens.Find(given) is not { } token)
            {
                return Problems.Of(CommonErrors.Unauthorized,
                    $"send the token from the cookie file {cookie.Path} (or a wallet token) as 'Authorization: Bearer <token>'");
            }
            if (OutOfScope(http, token) is { } why)
            {
                return Problems.Of(WalletErrors.Get("token_scope"), why);
            }
        }
        var hasBody = http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
        if ((hasBody || request.ContentType is not null) && !IsJson(request.ContentType))
        {
            return Problems.Of(CommonErrors.UnsupportedMediaType, $"a request body must be sent as application/json, not '{request.ContentType}'");
        }
        return await next(context);
    }

    private bool IsLoopbackHost(HostString host) =>
        host.HasValue && (host.Port ?? 80) == Port &&
        (host.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.Host is "127.0.0.1" or "[::1]");

    /// <summary><c>application/json</c>, alone or followed by parameters (<c>; charset=utf-8</c>); not <c>application/jsonp</c> nor <c>+json</c> types.</summary>
    private static bool IsJson(string? contentType)
    {
        const string Json = "application/json";
        if (contentType is null || !contentType.StartsWith(Json, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var rest = contentType.AsSpan(Json.Length).TrimStart(' ');
        return rest.IsEmpty || rest[0] == ';';
    }

    /// <summary>Null when a wallet token may call this endpoint; else why not.</summary>
    private string? OutOfScope(HttpContext http, WalletToken token)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<WalletTokenAllowed>() is null)
        {
            return "a wallet token may only sign, send, use the escrow helpers, sign receipts and requests, and read its own wallet and balance; this endpoint needs the cookie's token";
        }
        // The wallet is the address behind the route's name: from memory when unlocked, else from the keystore.
        var name = http.Request.RouteValues["name"] as string;
        Address? address = name is null ? null : signer.UnlockedAddress(name) ?? keystore.Get(name)?.Address;
        return address == token.Address ? null : $"this token is scoped to the wallet of {token.Address}, not to '{name}'";
    }
}
