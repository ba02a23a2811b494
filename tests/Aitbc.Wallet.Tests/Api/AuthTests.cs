using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Aitbc.Wallet.Auth;

namespace Aitbc.Wallet.Tests.Api;

/// <summary>Cookie authentication: every API request carries the token from the 0600 cookie file, or gets 401.</summary>
public sealed class AuthTests(WalletHost host) : IClassFixture<WalletHost>
{
    private WalletDaemon Daemon => host.Daemon;

    private async Task<Reply> RequestAsync(HttpMethod method, string path, AuthenticationHeaderValue? auth, string? body = null)
    {
        using var http = new HttpClient { BaseAddress = Daemon.Server.Uri };
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = auth;
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    public static TheoryData<string, string, string?> Endpoints => new()
    {
        { "GET", "/v1/wallets", null },
        { "POST", "/v1/wallets", $$"""{"name":"intruder","password":"{{WalletDaemon.Password}}"}""" },
        { "POST", "/v1/wallets/auth-victim/unlock", $$"""{"password":"{{WalletDaemon.Password}}"}""" },
        { "POST", "/v1/wallets/auth-victim/send", """{"to":"ait1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs3n8dql","amount":"1"}""" },
        { "POST", "/v1/wallets/auth-victim/sign", """{"type":"transfer","body":{"to":"x","amount":"1"}}""" },
        { "GET", "/v1/wallets/auth-victim/export", null },
        { "GET", "/v1/audit", null },
        { "DELETE", "/v1/wallets/auth-victim?confirm=auth-victim", null },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task A_request_without_the_token_gets_401_and_changes_nothing(string method, string path, string? body)
    {
        await EnsureVictimAsync();
        var row = Daemon.Row("auth-victim");

        foreach (var auth in new AuthenticationHeaderValue?[]
        {
            null,
            new("Bearer", new string('0', 64)),
            new("Bearer", ""),
            new("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("user:" + Daemon.Server.Token))),
            new("Bearer", Daemon.Server.Token[..^1]),
        })
        {
            var reply = await RequestAsync(new HttpMethod(method), path, auth, body);
            reply.ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
            Assert.DoesNotContain(Daemon.Server.Token, reply.Text, StringComparison.Ordinal);
        }

        Assert.Equal(row, Daemon.Row("auth-victim"));
        Assert.Equal(0, Daemon.Count("SELECT count(*) FROM wallets WHERE name = 'intruder'"));
        Assert.False((await Daemon.GetAsync("/v1/wallets/auth-victim")).Expect(HttpStatusCode.OK).TryGetProperty("unlockedUntil", out _));
    }

    [Fact]
    public async Task The_token_from_the_cookie_file_is_accepted()
    {
        var token = CookieAuth.Read(Daemon.Server.CookiePath);

        var reply = await RequestAsync(HttpMethod.Get, "/v1/wallets", new AuthenticationHeaderValue("Bearer", token));

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal(Daemon.Server.Token, token);
        Assert.Equal(64, token.Length);
    }

    [Fact]
    public void The_cookie_file_is_beside_the_keystore_and_readable_by_its_owner_only()
    {
        Assert.Equal(Path.GetDirectoryName(Daemon.KeystorePath), Path.GetDirectoryName(Daemon.Server.CookiePath));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Daemon.Server.CookiePath));
        }
    }

    [Fact]
    public async Task Health_needs_no_token()
    {
        Assert.Equal(HttpStatusCode.OK, (await RequestAsync(HttpMethod.Get, "/health/live", null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await RequestAsync(HttpMethod.Get, "/health/ready", null)).Status);
    }

    [Fact]
    public async Task A_daemon_stopped_removes_its_cookie_and_a_new_one_has_a_new_token()
    {
        var daemon = await host.StartDaemonAsync();
        var path = daemon.Server.CookiePath;
        var token = daemon.Server.Token;

        await daemon.DisposeAsync();

        Assert.False(File.Exists(path));
        var again = await host.StartDaemonAsync();
        Assert.NotEqual(token, again.Server.Token);
    }

    private async Task EnsureVictimAsync()
    {
        if (Daemon.Count("SELECT count(*) FROM wallets WHERE name = 'auth-victim'") == 0)
        {
            var reply = await Daemon.PostAsync("/v1/wallets", new { name = "auth-victim", password = WalletDaemon.Password });
            Assert.True(reply.Status is HttpStatusCode.Created || reply.Code == "name_taken", reply.Text);
        }
    }
}
