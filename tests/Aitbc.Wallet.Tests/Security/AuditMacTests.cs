using System.Net;
using System.Text.Json;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 17 (docs/security.md): the audit chain was plain SHA-256, so whoever could write the keystore file could rewrite an entry
/// (lower a spent amount, turn a refusal into nothing) and recompute every hash after it. Each entry now carries a
/// MAC of its hash under its wallet's audit key, derived from the seed; verify checks the MACs of unlocked wallets.
/// </summary>
public sealed class AuditMacTests(WalletHost host) : IClassFixture<WalletHost>
{
    private static async Task SignAsync(WalletDaemon daemon, string wallet, int count, long firstNonce = 0)
    {
        var to = TestKeys.Stranger();
        for (var i = 0; i < count; i++)
        {
            (await daemon.SignTransferAsync(wallet, to, 100 + (ulong)i, nonce: firstNonce + i)).Expect(HttpStatusCode.OK);
        }
    }

    /// <summary>The attacker's rewrite: entry <paramref name="seq"/>'s amount changed, then every hash from it on recomputed by the published rule.</summary>
    private static void RewriteWithRecomputedHashes(WalletDaemon daemon, long seq, string amount)
    {
        daemon.Execute("UPDATE audit SET amount = $amount WHERE seq = $seq", ("$amount", amount), ("$seq", seq));
        using var c = daemon.OpenFile();
        var rows = new List<(long Seq, long Time, string Wallet, string Address, string Tx, string Type, string Amount, string Decision, string? Reason)>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT seq, time, wallet, address, tx_id, type, amount, decision, reason FROM audit ORDER BY seq";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add((r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8)));
            }
        }
        var prev = Hash256.Zero;
        foreach (var e in rows)
        {
            var hash = AuditEntry.Compute(e.Seq, e.Time, e.Wallet, Address.Parse(e.Address), Hash256.Parse(e.Tx), e.Type, Amount.Parse(e.Amount), e.Decision, e.Reason, prev);
            using var update = c.CreateCommand();
            update.CommandText = "UPDATE audit SET prev_hash = $prev, hash = $hash WHERE seq = $seq";
            update.Parameters.AddWithValue("$prev", prev.ToString());
            update.Parameters.AddWithValue("$hash", hash.ToString());
            update.Parameters.AddWithValue("$seq", e.Seq);
            update.ExecuteNonQuery();
            prev = hash;
        }
    }

    private static (bool Intact, long? FirstBad, string? Problem, long Checked, long Unchecked) Read(JsonElement v) =>
        (v.GetProperty("intact").GetBoolean(), v.TryGetProperty("firstBadSeq", out var f) ? f.GetInt64() : null,
            v.TryGetProperty("problem", out var p) ? p.GetString() : null, v.GetProperty("macChecked").GetInt64(), v.GetProperty("macUnchecked").GetInt64());

    [Fact]
    public async Task Attack17_AnEntryRewrittenWithEveryHashRecomputedIsDetected()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("mac-a");
        await daemon.CreateUnlockedAsync("mac-b");
        await SignAsync(daemon, "mac-a", 2);
        await SignAsync(daemon, "mac-b", 2);
        Assert.Equal((true, null, null, 4L, 0L), Read(await daemon.VerifyAuditAsync()));

        // Wallet a's first entry lowered; b's entries come after it, so b's MACs break too even with a locked.
        RewriteWithRecomputedHashes(daemon, 1, "1");
        (await daemon.PostAsync("/v1/wallets/mac-a/lock", new { })).Expect(HttpStatusCode.OK);
        var verify = Read(await daemon.VerifyAuditAsync());

        Assert.False(verify.Intact);
        Assert.Equal(3, verify.FirstBad);
        Assert.Contains("MAC", verify.Problem, StringComparison.Ordinal);
        await daemon.UnlockAsync("mac-a", 600);
        verify = Read(await daemon.VerifyAuditAsync());
        Assert.Equal((false, 1L), (verify.Intact, verify.FirstBad));
    }

    [Fact]
    public async Task Attack17_StrippingTheMacsOrMovingTheWalletsBoundaryIsDetected()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("mac-strip");
        await SignAsync(daemon, "mac-strip", 3);
        var row = daemon.Row("mac-strip");

        daemon.Execute("UPDATE audit SET mac = NULL WHERE seq = 2");
        var stripped = Read(await daemon.VerifyAuditAsync());
        Assert.Equal((false, 2L), (stripped.Intact, stripped.FirstBad));

        // The boundary (the first entry the wallet vouches for) is under the policy MAC: moving it, or clearing it
        // to pass for a wallet of schema 1, makes the wallet refuse to open.
        foreach (var boundary in new object[] { 100L, DBNull.Value })
        {
            daemon.Execute("UPDATE wallets SET audit_from = $b WHERE name = 'mac-strip'", ("$b", boundary));
            (await daemon.PostAsync("/v1/wallets/mac-strip/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Conflict, "tampered");
        }
        daemon.Execute("UPDATE wallets SET audit_from = 1 WHERE name = 'mac-strip'");
        Assert.Equal(row, daemon.Row("mac-strip"));
    }

    [Fact]
    public async Task Attack17_RewritingTheLogToSpendLessDoesNotLiftTheDailyLimit()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("mac-daily");
        await daemon.SetPolicyAsync("mac-daily", new { maxPerDay = "3000" });
        var to = TestKeys.Stranger();
        (await daemon.SignTransferAsync("mac-daily", to, 1_000, nonce: 0)).Expect(HttpStatusCode.OK); // 2,000 with the fee
        (await daemon.PostAsync("/v1/wallets/mac-daily/lock", new { })).Expect(HttpStatusCode.OK);

        // The day's spending read from the file at unlock: lowered to nothing, every hash recomputed.
        RewriteWithRecomputedHashes(daemon, 1, "0");
        await daemon.UnlockAsync("mac-daily", 600);
        var entries = daemon.Count("SELECT count(*) FROM audit");
        var reply = await daemon.SignTransferAsync("mac-daily", to, 500, nonce: 1); // 1,500: under the limit only if the rewrite held

        reply.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
        Assert.Equal(entries + 1, daemon.Count("SELECT count(*) FROM audit"));
        Assert.Equal(1, daemon.Count("SELECT count(*) FROM audit WHERE decision = 'signed'"));
    }

    [Fact]
    public async Task A_keystore_of_schema_1_is_migrated_its_old_entries_stay_hash_chained_and_a_rewrite_of_them_breaks_the_new_macs()
    {
        using var dir = new TempDir();
        var seed = new byte[32];
        seed[0] = 17;
        Address address;
        await using (var first = await WalletDaemon.StartAsync(dir.Path, host.Node.RpcUri))
        {
            var created = (await first.PostAsync("/v1/wallets", new { name = "legacy", password = WalletDaemon.Password, seed = Convert.ToHexStringLower(seed) })).Expect(HttpStatusCode.Created);
            address = Address.Parse(created.GetProperty("address").GetString()!);
            await first.UnlockAsync("legacy", 600);
            await SignAsync(first, "legacy", 2);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        // Back to schema 1, as the previous build wrote it: no MACs, no boundary, no tokens, no policy version, the v1 policy MAC.
        var keystore = Path.Combine(dir.Path, "keystore.db");
        var v1Mac = SpendingPolicy.Unlimited.Mac(SpendingPolicy.KeyFromSeed(seed), address, null);
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={keystore};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"""
                ALTER TABLE audit DROP COLUMN mac; ALTER TABLE wallets DROP COLUMN audit_from; DROP TABLE tokens;
                DROP INDEX audit_policy; ALTER TABLE wallets DROP COLUMN policy_version;
                UPDATE wallets SET policy_mac = '{v1Mac}'; UPDATE meta SET value = '1' WHERE key = 'schema';
                """;
            cmd.ExecuteNonQuery();
        }

        await using var daemon = await WalletDaemon.StartAsync(dir.Path, host.Node.RpcUri);
        Assert.Equal("3", Scalar(daemon, "SELECT value FROM meta WHERE key = 'schema'"));
        Assert.Equal((true, null, null, 0L, 2L), Read(await daemon.VerifyAuditAsync()));
        await daemon.UnlockAsync("legacy", 600);
        Assert.Equal("3", Scalar(daemon, "SELECT audit_from FROM wallets WHERE name = 'legacy'"));
        await SignAsync(daemon, "legacy", 1, firstNonce: 2);
        Assert.Equal((true, null, null, 1L, 2L), Read(await daemon.VerifyAuditAsync()));

        RewriteWithRecomputedHashes(daemon, 1, "1");
        var verify = Read(await daemon.VerifyAuditAsync());

        Assert.Equal((false, 3L), (verify.Intact, verify.FirstBad));
        Assert.Contains("MAC", verify.Problem, StringComparison.Ordinal);
    }

    private static string Scalar(WalletDaemon daemon, string sql)
    {
        using var c = daemon.OpenFile();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }
}
