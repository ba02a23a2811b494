using System.Net;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 3 (docs/security.md): the daily window was read at unlock by the raw <c>address</c> and <c>time</c> columns, and only the
/// rows that query returned were checked, so moving a wallet's entries out of the query (their time, their address) or deleting
/// them (with a later entry of another wallet, so not a cut of the tail) made the day look empty, without any key. The log is now
/// walked backward from its last entry, sequence numbers and links checked, using only what each verified hash covers.
/// </summary>
public sealed class DailyWindowTests(WalletHost host) : IClassFixture<WalletHost>
{
    /// <summary>
    /// The wallet's transfers moved or deleted: unlocked, every transaction refused. Its policy entry touched as well: the wallet
    /// does not even open (<c>tampered</c>: its row's policy version is not the log's).
    /// </summary>
    [Theory]
    [InlineData("UPDATE audit SET time = 0 WHERE wallet = 'win' AND type = 'transfer'", false)]
    [InlineData("UPDATE audit SET address = 'STRANGER' WHERE wallet = 'win' AND type = 'transfer'", false)]
    [InlineData("DELETE FROM audit WHERE wallet = 'win' AND type = 'transfer'", false)]
    [InlineData("UPDATE audit SET time = 0", true)]
    [InlineData("DELETE FROM audit WHERE wallet = 'win'", true)]
    public async Task Attack17_MovingOrDeletingAWalletsEntriesWithoutAnyKeyDoesNotLiftTheDailyLimit(string tamper, bool policyEntryTouched)
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("win");
        await daemon.CreateUnlockedAsync("win-other");
        await daemon.SetPolicyAsync("win", new { maxPerDay = "3000" });
        var to = TestKeys.Stranger();
        (await daemon.SignTransferAsync("win", to, 1_000, nonce: 0)).Expect(HttpStatusCode.OK); // 2,000 with the fee
        (await daemon.SignTransferAsync("win-other", to, 1, nonce: 0)).Expect(HttpStatusCode.OK); // a later entry of another wallet
        (await daemon.PostAsync("/v1/wallets/win/lock", new { })).Expect(HttpStatusCode.OK);

        // No hash recomputed, no MAC forged: the entries are only moved out of what the old query selected, or removed.
        daemon.Execute(tamper.Replace("STRANGER", TestKeys.Stranger().ToString(), StringComparison.Ordinal));
        var entries = daemon.Count("SELECT count(*) FROM audit");
        var signed = daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'");
        if (policyEntryTouched)
        {
            (await daemon.PostAsync("/v1/wallets/win/unlock", new { password = WalletDaemon.Password, seconds = 600 })).ExpectProblem(HttpStatusCode.Conflict, "tampered");
            (await daemon.SignTransferAsync("win", to, 1_000, nonce: 1)).ExpectProblem(HttpStatusCode.Locked, "locked");
            Assert.Equal(entries, daemon.Count("SELECT count(*) FROM audit"));
            Assert.Equal(signed, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
            return;
        }
        await daemon.UnlockAsync("win", 600);
        var reply = await daemon.SignTransferAsync("win", to, 1_000, nonce: 1); // 2,000 more: over 3,000 if the first counted

        reply.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.Contains("audit log does not hold", reply.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
        Assert.Equal(entries + 1, daemon.Count("SELECT count(*) FROM audit"));
        Assert.Equal(signed, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
        Assert.Equal(1, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'refused' AND wallet = 'win'"));
    }

    [Fact]
    public async Task An_untouched_log_with_other_wallets_entries_keeps_the_days_spending_across_lock_and_unlock()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("win-ok");
        await daemon.CreateUnlockedAsync("win-ok-other");
        await daemon.SetPolicyAsync("win-ok", new { maxPerDay = "5000" });
        var to = TestKeys.Stranger();
        (await daemon.SignTransferAsync("win-ok", to, 1_000, nonce: 0)).Expect(HttpStatusCode.OK); // 2,000
        for (var i = 0; i < 3; i++)
        {
            (await daemon.SignTransferAsync("win-ok-other", to, 1, nonce: i)).Expect(HttpStatusCode.OK);
        }
        (await daemon.PostAsync("/v1/wallets/win-ok/lock", new { })).Expect(HttpStatusCode.OK);
        await daemon.UnlockAsync("win-ok", 600);

        (await daemon.SignTransferAsync("win-ok", to, 1_000, nonce: 1)).Expect(HttpStatusCode.OK); // 4,000
        (await daemon.SignTransferAsync("win-ok", to, 1_000, nonce: 2)).ExpectProblem(HttpStatusCode.Forbidden, "policy_refused"); // 6,000
    }
}
