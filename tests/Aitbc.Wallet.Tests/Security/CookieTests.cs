using System.Net;
using System.Net.Http.Headers;
using Aitbc.Wallet.Auth;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 10 (docs/security.md): the cookie was written before the port was bound and deleted when the bind failed, so a second daemon
/// started by mistake on the same keystore and port wiped the running daemon's cookie, locking its clients out. The cookie is now
/// written only once the listener is bound, and removed at stop only if it still holds the daemon's own token.
/// </summary>
public sealed class CookieTests(WalletHost host) : IClassFixture<WalletHost>
{
    [Fact]
    public async Task Attack16_ASecondDaemonOnTheSameKeystoreAndPortLeavesTheFirstsCookieWorking()
    {
        var first = await host.StartDaemonAsync();
        await first.CreateAsync("cookie");
        var cookie = await File.ReadAllTextAsync(first.Server.CookiePath);
        var row = first.Row("cookie");
        var entries = first.Count("SELECT count(*) FROM audit");

        var options = WalletDaemon.Options(Path.GetDirectoryName(first.KeystorePath)!, host.Node.RpcUri);
        options.Port = first.Server.Uri.Port;
        await Assert.ThrowsAnyAsync<IOException>(async () => await (await WalletServer.StartAsync(options, logging: _ => { })).DisposeAsync());

        Assert.Equal(cookie, await File.ReadAllTextAsync(first.Server.CookiePath));
        using var http = new HttpClient { BaseAddress = first.Server.Uri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", CookieAuth.Read(first.Server.CookiePath));
        using var response = await http.GetAsync(new Uri("/v1/wallets", UriKind.Relative));
        (await Reply.FromAsync(response)).Expect(HttpStatusCode.OK);
        Assert.Equal(row, first.Row("cookie"));
        Assert.Equal(entries, first.Count("SELECT count(*) FROM audit"));
    }

    [Fact]
    public async Task A_daemon_that_stops_leaves_a_cookie_it_did_not_write()
    {
        var daemon = await host.StartDaemonAsync();
        await File.WriteAllTextAsync(daemon.Server.CookiePath, "another daemon's token");
        await daemon.DisposeAsync();

        Assert.Equal("another daemon's token", await File.ReadAllTextAsync(daemon.Server.CookiePath));
    }
}
