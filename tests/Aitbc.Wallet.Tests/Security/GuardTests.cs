using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 1 (docs/security.md): the token was checked by a case-sensitive path prefix, so <c>GET /V1/wallets</c> answered 200 with
/// no token. Now one guard on the <c>/v1</c> route group checks the Host, the token and the content type of every
/// endpoint there. Each attack runs against a real daemon with an unlocked, funded wallet; nothing may be signed,
/// sent or exported.
/// </summary>
public sealed partial class GuardTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const string Victim = "guard-victim";
    private static readonly SemaphoreSlim Setup = new(1, 1);
    private WalletDaemon Daemon => host.Daemon;

    private static string SendBody => $$"""{"to":"{{TestKeys.Stranger()}}","amount":"5","wait":true}""";

    private async Task<Address> VictimAsync()
    {
        await Setup.WaitAsync();
        try
        {
            if (Daemon.Count($"SELECT count(*) FROM wallets WHERE name = '{Victim}'") == 0)
            {
                var address = await Daemon.CreateUnlockedAsync(Victim);
                await host.FundAsync(address, 100 * WalletHost.Ait);
            }
            return Address.Parse((await Daemon.GetAsync($"/v1/wallets/{Victim}")).Expect(HttpStatusCode.OK).GetProperty("address").GetString()!);
        }
        finally
        {
            Setup.Release();
        }
    }

    /// <summary>What an attack could have moved: the victim's balance and nonce, its keystore row and the audit log's length.</summary>
    private async Task<string> StateAsync(Address victim)
    {
        var (balance, nonce, next) = await host.AccountAsync(victim);
        return $"{balance}/{nonce}/{next}|{Daemon.Row(Victim)}|{Daemon.Count("SELECT count(*) FROM audit")}|{Daemon.Count("SELECT count(*) FROM wallets")}";
    }

    private async Task<Reply> SendAsync(string method, string path, string? token, string? body = null, string? contentType = "application/json", string? hostHeader = null)
    {
        using var http = new HttpClient { BaseAddress = Daemon.Server.Uri };
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(Daemon.Server.Uri, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (hostHeader is not null)
        {
            request.Headers.Host = hostHeader;
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }
        }
        using var response = await http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    public static TheoryData<string, string, bool> BypassPaths => new()
    {
        // method, path, whether routing matches it (then the guard answers 401; else routing answers 404 or 405:
        // an encoded slash is not a separator, so no route has it and a name holding it matches none of POST /{name})
        { "GET", "/V1/wallets", true },
        { "GET", "/V1/WALLETS/", true },
        { "GET", "/v1/Wallets", true },
        { "GET", $"/V1/wallets/{Victim}/export", true },
        { "GET", $"/v1/WALLETS/{Victim}/EXPORT", true },
        { "POST", $"/V1/wallets/{Victim}/send", true },
        { "POST", $"/V1/wallets/{Victim}/sign", true },
        { "POST", $"/V1/wallets/{Victim}/escrow/lock", true },
        { "GET", "/V1/audit", true },
        { "GET", "/v1//wallets", false },
        { "GET", $"/v1//wallets/{Victim}/export", false },
        { "GET", "/v1%2Fwallets", false },
        { "GET", "/V1%2fwallets", false },
        { "GET", $"/v1/wallets%2F{Victim}%2Fexport", false },
        { "GET", $"/%76%31/wallets/{Victim}/export", true },
        { "POST", $"/v1/wallets/{Victim}%2Fsend", false },
    };

    [Theory]
    [MemberData(nameof(BypassPaths))]
    public async Task Attack01_CasedDoubledAndEncodedPathsWithoutTheTokenAreRefused(string method, string path, bool routed)
    {
        var victim = await VictimAsync();
        var before = await StateAsync(victim);

        var reply = await SendAsync(method, path, token: null, body: method == "POST" ? SendBody : null);

        if (routed)
        {
            reply.ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        }
        else
        {
            Assert.True(reply.Status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{reply.Status}: {reply.Text}");
        }
        Assert.DoesNotContain("ciphertext", reply.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(victim.ToString(), reply.Text, StringComparison.Ordinal);
        Assert.Equal(before, await StateAsync(victim));
    }

    [Fact]
    public async Task Attack01_EveryV1EndpointInAnyCaseNeedsTheToken()
    {
        var victim = await VictimAsync();
        var before = await StateAsync(victim);
        var endpoints = Daemon.Server.Endpoints.Where(e => e.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true).ToList();
        Assert.True(endpoints.Count >= 20, $"only {endpoints.Count} endpoints under /v1");

        foreach (var e in endpoints)
        {
            var path = RouteParameter().Replace(e.RoutePattern.RawText!.TrimEnd('/'), m => m.Value == "{name}" ? Victim : "x");
            foreach (var method in e.Metadata.OfType<Microsoft.AspNetCore.Routing.HttpMethodMetadata>().Single().HttpMethods)
            {
                foreach (var variant in new[] { path, path.ToUpperInvariant().Replace(Victim.ToUpperInvariant(), Victim, StringComparison.Ordinal), "/V1" + path[3..] })
                {
                    var reply = await SendAsync(method, variant + (method == "DELETE" ? $"?confirm={Victim}" : ""), token: null,
                        body: method is "POST" or "PUT" ? "{}" : null);
                    Assert.True(reply.Status == HttpStatusCode.Unauthorized && reply.Code == "unauthorized", $"{method} {variant}: {reply.Status} {reply.Text}");
                }
            }
        }
        Assert.Equal(before, await StateAsync(victim));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/jsonp")]
    [InlineData("application/json-patch+json")]
    [InlineData("application/problem+json")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData(null)]
    public async Task Attack01_ABodyThatIsNotDeclaredJsonIsRefusedEvenWithTheToken(string? contentType)
    {
        var victim = await VictimAsync();
        var before = await StateAsync(victim);

        var send = await SendAsync("POST", $"/v1/wallets/{Victim}/send", Daemon.Server.Token, SendBody, contentType);
        var create = await SendAsync("POST", "/v1/wallets", Daemon.Server.Token, $$"""{"name":"csrf","password":"{{WalletDaemon.Password}}"}""", contentType);

        send.ExpectProblem(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        create.ExpectProblem(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal(before, await StateAsync(victim));
        Assert.Equal(0, Daemon.Count("SELECT count(*) FROM wallets WHERE name = 'csrf'"));
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:{port}")]
    [InlineData("127.0.0.1.evil.example:{port}")]
    [InlineData("localhost.:{port}")]
    [InlineData("127.0.0.1:1")]
    [InlineData("10.0.0.1:{port}")]
    public async Task Attack01_AForeignHostHeaderIsRefused_DnsRebinding(string hostHeader)
    {
        var victim = await VictimAsync();
        var before = await StateAsync(victim);
        var header = hostHeader.Replace("{port}", Daemon.Server.Uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        // A rebound page cannot send the token; with it, the Host is still refused.
        var export = await SendAsync("GET", $"/v1/wallets/{Victim}/export", Daemon.Server.Token, hostHeader: header);
        var send = await SendAsync("POST", $"/v1/wallets/{Victim}/send", Daemon.Server.Token, SendBody, hostHeader: header);

        export.ExpectProblem(HttpStatusCode.BadRequest, "invalid_host");
        send.ExpectProblem(HttpStatusCode.BadRequest, "invalid_host");
        Assert.DoesNotContain("ciphertext", export.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await StateAsync(victim));
    }

    [Theory]
    [InlineData("localhost:{port}")]
    [InlineData("LocalHost:{port}")]
    [InlineData("127.0.0.1:{port}")]
    public async Task The_loopback_names_with_the_port_are_accepted(string hostHeader)
    {
        await VictimAsync();
        var header = hostHeader.Replace("{port}", Daemon.Server.Uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var reply = await SendAsync("GET", $"/v1/wallets/{Victim}", Daemon.Server.Token, hostHeader: header);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
    }

    [Fact]
    public async Task A_json_body_with_a_charset_and_a_post_without_a_body_pass_the_guard()
    {
        await VictimAsync();

        var sign = await SendAsync("POST", $"/v1/wallets/{Victim}/sign", Daemon.Server.Token,
            $$"""{"type":"transfer","body":{"to":"{{TestKeys.Stranger()}}","amount":"1"},"nonce":900,"fee":"1000"}""", "application/json; charset=utf-8");
        var noBody = await SendAsync("POST", $"/v1/wallets/{Victim}/lock", Daemon.Server.Token);

        Assert.Equal(HttpStatusCode.OK, sign.Status);
        Assert.Equal(HttpStatusCode.OK, noBody.Status);
        await Daemon.UnlockAsync(Victim, 600);
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
