using System.Net;

namespace Aitbc.Wallet.Tests.Keystore;

/// <summary>
/// A keystore row edited in the SQLite file by anything but the daemon: an edited policy fails its MAC, and a
/// sealed seed moved to another row (or a row's address or cost changed) does not open. Each test damages a
/// keystore of its own.
/// </summary>
public sealed class KeystoreTamperTests(WalletHost host) : IClassFixture<WalletHost>
{
    [Fact]
    public async Task A_policy_edited_in_the_file_is_detected_at_unlock()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("guarded");
        await daemon.SetPolicyAsync("guarded", new { maxPerTx = "1000000000" });
        (await daemon.PostAsync("/v1/wallets/guarded/lock", new { })).Expect(HttpStatusCode.OK);

        // Someone with the file raises the limit: well-formed JSON, but not what the wallet authenticated.
        Assert.Equal(1, daemon.Execute("UPDATE wallets SET policy = $p WHERE name = 'guarded'", ("$p", """{"maxPerTx":"1000000000000"}""")));

        var reply = await daemon.PostAsync("/v1/wallets/guarded/unlock", new { password = WalletDaemon.Password, seconds = 60 });

        reply.ExpectProblem(HttpStatusCode.Conflict, "tampered");
        Assert.Contains("policy", reply.Detail, StringComparison.Ordinal);
        Assert.False((await daemon.GetAsync("/v1/wallets/guarded")).Expect(HttpStatusCode.OK).TryGetProperty("unlockedUntil", out _));
        (await daemon.SignTransferAsync("guarded", TestKeys.Stranger(), 1, 0)).ExpectProblem((HttpStatusCode)423, "locked");

        // Removing the policy altogether is no way around it either.
        daemon.Execute("UPDATE wallets SET policy = '{}' WHERE name = 'guarded'");
        (await daemon.PostAsync("/v1/wallets/guarded/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Conflict, "tampered");

        // Put back as it was, it opens again.
        daemon.Execute("UPDATE wallets SET policy = $p WHERE name = 'guarded'", ("$p", """{"maxPerTx":"1000000000"}"""));
        await daemon.UnlockAsync("guarded", 60);
    }

    [Fact]
    public async Task Sealed_seeds_swapped_between_two_rows_do_not_open()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateAsync("first");
        await daemon.CreateAsync("second");

        Swap(daemon, "first", "second");

        (await daemon.PostAsync("/v1/wallets/first/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        (await daemon.PostAsync("/v1/wallets/second/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        Assert.Empty(await daemon.AuditAsync());

        // Swapped back, both open: it was the move that was refused, not the password.
        Swap(daemon, "first", "second");
        await daemon.UnlockAsync("first", 60);
        await daemon.UnlockAsync("second", 60);
    }

    [Fact]
    public async Task A_row_whose_address_or_cost_was_changed_does_not_open()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateAsync("moved");
        await daemon.CreateAsync("cheap");

        daemon.Execute("UPDATE wallets SET address = $a WHERE name = 'moved'", ("$a", TestKeys.Stranger().ToString()));
        daemon.Execute("UPDATE wallets SET kdf_passes = 2 WHERE name = 'cheap'");

        (await daemon.PostAsync("/v1/wallets/moved/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        (await daemon.PostAsync("/v1/wallets/cheap/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
    }

    private static void Swap(WalletDaemon daemon, string a, string b)
    {
        using var c = daemon.OpenFile();
        using var tx = c.BeginTransaction();
        object[] Sealed(string name)
        {
            using var read = c.CreateCommand();
            read.Transaction = tx;
            read.CommandText = "SELECT salt, nonce, ciphertext FROM wallets WHERE name = $n";
            read.Parameters.AddWithValue("$n", name);
            using var r = read.ExecuteReader();
            Assert.True(r.Read());
            return [r[0], r[1], r[2]];
        }
        void Write(string name, object[] values)
        {
            using var write = c.CreateCommand();
            write.Transaction = tx;
            write.CommandText = "UPDATE wallets SET salt = $s, nonce = $nc, ciphertext = $c WHERE name = $n";
            write.Parameters.AddWithValue("$s", values[0]);
            write.Parameters.AddWithValue("$nc", values[1]);
            write.Parameters.AddWithValue("$c", values[2]);
            write.Parameters.AddWithValue("$n", name);
            Assert.Equal(1, write.ExecuteNonQuery());
        }
        var (sa, sb) = (Sealed(a), Sealed(b));
        Write(a, sb);
        Write(b, sa);
        tx.Commit();
    }
}
