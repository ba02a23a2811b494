using System.Net;
using System.Net.Http.Headers;
using Aitbc.Wallet.Auth;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// The daemon's <c>/metrics</c> tells who signs how much: it is behind the same guard as <c>/v1</c> (the Host check and
/// the cookie's token), and, read with the token, counts the signatures and refusals.
/// </summary>
public sealed class MetricsGuardTests(WalletHost host) : IClassFixture<WalletHost>
{
    private WalletDaemon Daemon => host.Daemon;

    [Theory]
    [InlineData("/metrics", null, null)]
    [InlineData("/METRICS", null, null)]
    [InlineData("/metrics", "not-the-token", null)]
    [InlineData("/metrics", "cookie", "attacker.example:8015")]
    public async Task Metrics_without_the_token_or_from_a_foreign_host_are_refused_and_disclose_nothing(string path, string? token, string? hostHeader)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Daemon.Server.Uri, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token == "cookie" ? CookieAuth.Read(Daemon.Server.CookiePath) : token);
        }
        if (hostHeader is not null)
        {
            request.Headers.Host = hostHeader;
        }
        using var response = await http.SendAsync(request);
        var reply = await Reply.FromAsync(response);
        Assert.True(reply.Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.BadRequest, $"{reply.Status}: {reply.Text}");
        Assert.DoesNotContain("aitbc_wallet", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_read_with_the_token_count_signatures_and_policy_refusals()
    {
        var name = "metrics-" + Guid.NewGuid().ToString("N")[..8];
        var address = await Daemon.CreateUnlockedAsync(name);
        await host.FundAsync(address, 100 * WalletHost.Ait);
        var before = await MetricsAsync();

        (await Daemon.TransferAsync(name, TestKeys.Stranger(), 5)).Expect(HttpStatusCode.OK);
        await Daemon.SetPolicyAsync(name, new { maxPerTx = "10" });
        var refused = await Daemon.TransferAsync(name, TestKeys.Stranger(), 1000);
        Assert.False(refused.Status == HttpStatusCode.OK, refused.Text);

        var after = await MetricsAsync();
        Assert.True(PrometheusText.Declares(after, "aitbc_wallet_signatures_total", "counter"), after);
        Assert.Equal(Value(before, "aitbc_wallet_signatures_total", "kind=\"transaction\"") + 1, Value(after, "aitbc_wallet_signatures_total", "kind=\"transaction\""));
        Assert.Equal(Value(before, "aitbc_wallet_refusals_total", "reason=\"policy\"") + 1, Value(after, "aitbc_wallet_refusals_total", "reason=\"policy\""));
    }

    private static double Value(string text, string name, string label) => PrometheusText.Samples(text, name, label).Sum();

    private async Task<string> MetricsAsync()
    {
        using var response = await Daemon.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
