using System.Net;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 4 (docs/security.md): the policy MAC covered the address, the audit boundary and the policy, no version, so an older row
/// (say the unlimited policy a wallet was created with) written back over a tighter one was accepted at unlock. The MAC now covers a
/// version raised at every change, and each change writes a MAC'd audit entry naming it; at unlock the row's version must be the
/// last policy entry's.
/// </summary>
public sealed class PolicyRollbackTests(WalletHost host) : IClassFixture<WalletHost>
{
    private static (string Policy, string Mac, object Version) Stored(WalletDaemon daemon, string name)
    {
        using var c = daemon.OpenFile();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT policy, policy_mac, policy_version FROM wallets WHERE name = $name";
        cmd.Parameters.AddWithValue("$name", name);
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        return (r.GetString(0), r.GetString(1), r.GetValue(2));
    }

    private static void WriteBack(WalletDaemon daemon, string name, (string Policy, string Mac, object Version) row, bool withVersion) =>
        daemon.Execute(withVersion
                ? "UPDATE wallets SET policy = $p, policy_mac = $m, policy_version = $v WHERE name = $name"
                : "UPDATE wallets SET policy = $p, policy_mac = $m WHERE name = $name",
            ("$p", row.Policy), ("$m", row.Mac), ("$v", row.Version), ("$name", name));

    [Fact]
    public async Task Attack12_AnOlderPolicyRowWrittenBackIsRefusedAtUnlock()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("roll");
        var unlimited = Stored(daemon, "roll");
        await daemon.SetPolicyAsync("roll", new { maxPerTx = "2000" });
        var tight = Stored(daemon, "roll");
        Assert.Equal(1L, tight.Version);
        Assert.Equal(1, daemon.Count("SELECT count(*) FROM audit WHERE wallet = 'roll' AND type = 'policy' AND reason = 'version=1' AND mac IS NOT NULL"));
        (await daemon.PostAsync("/v1/wallets/roll/lock", new { })).Expect(HttpStatusCode.OK);
        var entries = daemon.Count("SELECT count(*) FROM audit");

        // The old row's policy and MAC alone (the MAC does not cover the new version), then with its version too (the log's last
        // policy entry says 1): refused either way, the wallet stays locked, nothing is signed.
        foreach (var withVersion in new[] { false, true })
        {
            WriteBack(daemon, "roll", unlimited, withVersion);
            (await daemon.PostAsync("/v1/wallets/roll/unlock", new { password = WalletDaemon.Password, seconds = 600 })).ExpectProblem(HttpStatusCode.Conflict, "tampered");
            (await daemon.SignTransferAsync("roll", TestKeys.Stranger(), 1_000_000, nonce: 0)).ExpectProblem(HttpStatusCode.Locked, "locked");
        }
        Assert.Equal(entries, daemon.Count("SELECT count(*) FROM audit"));
        Assert.Equal(0, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));

        // The current row back: it opens, and its limit holds.
        WriteBack(daemon, "roll", tight, withVersion: true);
        await daemon.UnlockAsync("roll", 600);
        (await daemon.SignTransferAsync("roll", TestKeys.Stranger(), 1_000_000, nonce: 0)).ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.Equal(0, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
    }

    [Fact]
    public async Task Attack12_AnOlderRowWrittenBackWithTheLaterPolicyEntriesDeletedStillSignsNothing()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("roll-del");
        await daemon.CreateUnlockedAsync("roll-del-other");
        var unlimited = Stored(daemon, "roll-del");
        await daemon.SetPolicyAsync("roll-del", new { maxPerTx = "2000" });
        (await daemon.SignTransferAsync("roll-del-other", TestKeys.Stranger(), 1, nonce: 0)).Expect(HttpStatusCode.OK); // a later entry: no cut of the tail
        (await daemon.PostAsync("/v1/wallets/roll-del/lock", new { })).Expect(HttpStatusCode.OK);

        // The entry that recorded the change deleted, so the row's version 0 matches the log again: the walk at unlock sees the gap.
        WriteBack(daemon, "roll-del", unlimited, withVersion: true);
        daemon.Execute("DELETE FROM audit WHERE type = 'policy'");
        await daemon.UnlockAsync("roll-del", 600);
        var reply = await daemon.SignTransferAsync("roll-del", TestKeys.Stranger(), 1_000_000, nonce: 0);

        reply.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
        Assert.Equal(0, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed' AND wallet = 'roll-del'"));
    }

    [Fact]
    public async Task A_wallet_deleted_and_imported_again_opens_with_its_policy_history_in_the_log()
    {
        var daemon = await host.StartDaemonAsync();
        var (_, phrase) = await daemon.CreateAsync("again");
        await daemon.UnlockAsync("again", 600);
        await daemon.SetPolicyAsync("again", new { maxPerTx = "2000" });
        await daemon.SetPolicyAsync("again", new { maxPerTx = "1000" });
        (await daemon.SendAsync(HttpMethod.Delete, "/v1/wallets/again?confirm=again", new { })).Expect(HttpStatusCode.NoContent);

        (await daemon.PostAsync("/v1/wallets", new { name = "again", password = WalletDaemon.Password, phrase })).Expect(HttpStatusCode.Created);
        Assert.Equal(2L, Stored(daemon, "again").Version);
        await daemon.UnlockAsync("again", 600);
        await daemon.SetPolicyAsync("again", new { maxPerTx = "500" });
        Assert.Equal(3L, Stored(daemon, "again").Version);
    }
}
