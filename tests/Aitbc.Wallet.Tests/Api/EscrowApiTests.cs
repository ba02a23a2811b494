using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Aitbc.Wallet.Tests.Api;

/// <summary>The escrow helpers end to end: lock by a client wallet, settle by a provider wallet, refund after expiry.</summary>
public sealed class EscrowApiTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private const ulong Fee = WalletHost.Fee;
    private WalletDaemon Daemon => host.Daemon;

    [Fact]
    public async Task Lock_by_the_client_then_settle_by_a_provider_with_an_empty_account()
    {
        var client = await Daemon.CreateUnlockedAsync("escrow-client");
        var provider = await Daemon.CreateUnlockedAsync("escrow-provider");
        await host.FundAsync(client, 100 * Ait);
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();

        var locked = (await Daemon.PostAsync("/v1/wallets/escrow-client/escrow/lock",
            new { jobId = "job-settle", provider = provider.ToString(), amount = WalletDaemon.Str(10 * Ait), expiresAt, wait = true }))
            .Expect(HttpStatusCode.OK);

        Assert.Equal("committed", locked.GetProperty("status").GetString());
        Assert.Equal("escrow.lock", locked.GetProperty("tx").GetProperty("type").GetString());
        Assert.Equal((90 * Ait) - Fee, await host.BalanceAsync(client));
        Assert.Equal(0ul, await host.BalanceAsync(provider));
        var escrow = await host.NodeGetAsync("/v1/escrows/job-settle");
        Assert.Equal("locked", escrow.GetProperty("status").GetString());
        Assert.Equal(WalletDaemon.Str(10 * Ait), escrow.GetProperty("amount").GetString());

        var receipt = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("a receipt")));
        var settled = (await Daemon.PostAsync("/v1/wallets/escrow-provider/escrow/settle",
            new { jobId = "job-settle", amount = WalletDaemon.Str(6 * Ait), receipt, wait = true }))
            .Expect(HttpStatusCode.OK);

        Assert.Equal("committed", settled.GetProperty("status").GetString());
        Assert.Equal((6 * Ait) - Fee, await host.BalanceAsync(provider));
        Assert.Equal((90 * Ait) - Fee + (4 * Ait), await host.BalanceAsync(client));
        escrow = await host.NodeGetAsync("/v1/escrows/job-settle");
        Assert.Equal(("settled", WalletDaemon.Str(6 * Ait), receipt),
            (escrow.GetProperty("status").GetString(), escrow.GetProperty("paid").GetString(), escrow.GetProperty("receipt").GetString()));

        // The policy counts a settle as its fee only (it pays the signer).
        var audit = await Daemon.AuditAsync("escrow-provider");
        var entry = Assert.Single(audit);
        Assert.Equal(("escrow.settle", WalletDaemon.Str(Fee)), (entry.GetProperty("type").GetString(), entry.GetProperty("amount").GetString()));
    }

    [Fact]
    public async Task Refund_by_the_client_after_expiry_returns_everything_but_the_two_fees()
    {
        var client = await Daemon.CreateUnlockedAsync("refund-client");
        await host.FundAsync(client, 50 * Ait);
        var expires = DateTimeOffset.UtcNow.AddSeconds(2);

        (await Daemon.PostAsync("/v1/wallets/refund-client/escrow/lock",
            new { jobId = "job-refund", provider = TestKeys.Stranger().ToString(), amount = WalletDaemon.Str(20 * Ait), expiresAt = expires.ToUnixTimeMilliseconds(), wait = true }))
            .Expect(HttpStatusCode.OK);
        Assert.Equal((30 * Ait) - Fee, await host.BalanceAsync(client));

        // Block times follow the clock: once it has passed expiresAt, the next block may carry the refund.
        var wait = expires - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        var refunded = (await Daemon.PostAsync("/v1/wallets/refund-client/escrow/refund", new { jobId = "job-refund", wait = true }))
            .Expect(HttpStatusCode.OK);

        Assert.Equal("committed", refunded.GetProperty("status").GetString());
        Assert.Equal((50 * Ait) - (2 * Fee), await host.BalanceAsync(client));
        Assert.Equal("refunded", (await host.NodeGetAsync("/v1/escrows/job-refund")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_malformed_escrow_body_is_refused_before_signing()
    {
        await Daemon.CreateUnlockedAsync("escrow-bad");

        (await Daemon.PostAsync("/v1/wallets/escrow-bad/escrow/lock", new { jobId = "j", provider = "ait1nope", amount = "1", expiresAt = 1 }))
            .ExpectProblem(HttpStatusCode.BadRequest, "invalid_transaction");
        (await Daemon.PostAsync("/v1/wallets/escrow-bad/escrow/settle", new { jobId = "j", amount = "1", receipt = "not-hex" }))
            .ExpectProblem(HttpStatusCode.BadRequest, "invalid_transaction");
        (await Daemon.PostAsync("/v1/wallets/escrow-bad/escrow/refund", new { jobId = "j", amount = "1" }))
            .ExpectProblem(HttpStatusCode.BadRequest, "invalid_transaction");
        (await Daemon.PostAsync("/v1/wallets/escrow-bad/escrow/refund", new { jobId = "", wait = true }))
            .ExpectProblem(HttpStatusCode.BadRequest, "invalid_transaction");

        Assert.Empty(await Daemon.AuditAsync("escrow-bad"));
    }
}
