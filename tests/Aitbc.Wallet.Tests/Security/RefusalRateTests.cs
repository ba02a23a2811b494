using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 9 (docs/security.md): every refused signature writes a synced audit row, and a wallet token's holder could send refused
/// requests without end and fill the disk. Refusals are now written at most <c>MaxRefusalsPerMinute</c> per unlocked wallet; past
/// that a refused request is answered <c>429 too_many_refusals</c> and writes nothing. Signatures the policy allows are not limited.
/// </summary>
public sealed class RefusalRateTests(WalletHost host) : IClassFixture<WalletHost>
{
    [Fact]
    public async Task Attack15_ATokenHoldersRefusedRequestsPastTheirRateWriteNothing()
    {
        var daemon = await host.StartDaemonAsync(o => o.MaxRefusalsPerMinute = 3);
        await daemon.CreateUnlockedAsync("flood");
        await daemon.SetPolicyAsync("flood", new { maxPerTx = "2000" });
        var token = (await daemon.PostAsync("/v1/wallets/flood/tokens", new { password = WalletDaemon.Password })).Expect(HttpStatusCode.Created)
            .GetProperty("token").GetString()!;
        using var agent = new HttpClient { BaseAddress = daemon.Server.Uri };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var to = TestKeys.Stranger();
        async Task<(Reply Reply, string? RetryAfter)> SignAsync(ulong amount, long nonce)
        {
            using var content = new StringContent($$"""{"type":"transfer","body":{"to":"{{to}}","amount":"{{amount}}"},"nonce":{{nonce}},"fee":"1000"}""",
                Encoding.UTF8, "application/json");
            using var response = await agent.PostAsync(new Uri("/v1/wallets/flood/sign", UriKind.Relative), content);
            return (await Reply.FromAsync(response), response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var entries = daemon.Count("SELECT count(*) FROM audit");

        for (var i = 0; i < 3; i++)
        {
            (await SignAsync(1_000_000, i)).Reply.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        }
        for (var i = 3; i < 20; i++)
        {
            var (reply, retryAfter) = await SignAsync(1_000_000, i);
            reply.ExpectProblem(HttpStatusCode.TooManyRequests, "too_many_refusals");
            Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
            Assert.NotNull(retryAfter);
        }

        Assert.Equal(entries + 3, daemon.Count("SELECT count(*) FROM audit"));
        Assert.Equal(3, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'refused'"));
        Assert.Equal(0, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
        // What the policy allows is still signed (and audited): only refusals are limited.
        (await SignAsync(500, 0)).Reply.Expect(HttpStatusCode.OK);
        Assert.Equal(1, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
    }
}
