using System.Net;
using System.Text.Json;

namespace Aitbc.Wallet.Tests.Audit;

/// <summary>
/// The hash-chained audit log: every signing decision is in it, and an entry altered or removed in the file is
/// found by <c>GET /v1/audit/verify</c>, which names the first entry that does not hold. Each test damages a
/// keystore of its own.
/// </summary>
public sealed class AuditLogTests(WalletHost host) : IClassFixture<WalletHost>
{
    /// <summary>A daemon with one unlocked wallet and five decisions: signed, signed, refused, signed, signed.</summary>
    private async Task<WalletDaemon> WithEntriesAsync()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("audited");
        var to = TestKeys.Stranger();
        (await daemon.SignTransferAsync("audited", to, 100, nonce: 0)).Expect(HttpStatusCode.OK);
        (await daemon.SignTransferAsync("audited", to, 200, nonce: 1)).Expect(HttpStatusCode.OK);
        await daemon.SetPolicyAsync("audited", new { maxPerTx = "5000" });
        (await daemon.SignTransferAsync("audited", to, 9_000, nonce: 2)).ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        (await daemon.SignTransferAsync("audited", to, 300, nonce: 2)).Expect(HttpStatusCode.OK);
        (await daemon.SignTransferAsync("audited", to, 400, nonce: 3)).Expect(HttpStatusCode.OK);
        return daemon;
    }

    [Fact]
    public async Task Every_decision_is_recorded_and_an_untouched_log_verifies()
    {
        var daemon = await WithEntriesAsync();

        var entries = await daemon.AuditAsync();
        var verify = await daemon.VerifyAuditAsync();

        Assert.Equal(["signed", "signed", "changed", "refused", "signed", "signed"], entries.Select(e => e.GetProperty("decision").GetString()));
        Assert.Equal(["1100", "1200", "0", "10000", "1300", "1400"], entries.Select(e => e.GetProperty("amount").GetString()));
        Assert.Equal([1L, 2, 3, 4, 5, 6], entries.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal(new string('0', 64), entries[0].GetProperty("prevHash").GetString());
        for (var i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].GetProperty("hash").GetString(), entries[i].GetProperty("prevHash").GetString());
        }
        Assert.Equal("policy", entries[2].GetProperty("type").GetString());
        Assert.Equal("version=1", entries[2].GetProperty("reason").GetString());
        Assert.Contains("per-transaction limit", entries[3].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(6, verify.GetProperty("entries").GetInt64());
        Assert.False(verify.TryGetProperty("firstBadSeq", out _));
    }

    [Fact]
    public async Task An_entry_whose_amount_was_altered_is_found()
    {
        var daemon = await WithEntriesAsync();

        Assert.Equal(1, daemon.Execute("UPDATE audit SET amount = '1' WHERE seq = 2"));
        var verify = await daemon.VerifyAuditAsync();

        Assert.False(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(2, verify.GetProperty("firstBadSeq").GetInt64());
        Assert.Contains("altered", verify.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refusal_rewritten_as_signed_is_found()
    {
        var daemon = await WithEntriesAsync();

        daemon.Execute("UPDATE audit SET decision = 'signed', reason = NULL WHERE seq = 3");
        var verify = await daemon.VerifyAuditAsync();

        Assert.False(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(3, verify.GetProperty("firstBadSeq").GetInt64());
    }

    [Fact]
    public async Task A_deleted_entry_is_found()
    {
        var daemon = await WithEntriesAsync();

        Assert.Equal(1, daemon.Execute("DELETE FROM audit WHERE seq = 3"));
        var verify = await daemon.VerifyAuditAsync();

        Assert.False(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(3, verify.GetProperty("firstBadSeq").GetInt64());
        Assert.Contains("missing", verify.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_entry_renumbered_to_hide_the_gap_is_found()
    {
        var daemon = await WithEntriesAsync();

        daemon.Execute("DELETE FROM audit WHERE seq = 3");
        daemon.Execute("UPDATE audit SET seq = -seq WHERE seq > 3"); // two steps: no clash of keys on the way
        daemon.Execute("UPDATE audit SET seq = -seq - 1 WHERE seq < 0");
        var verify = await daemon.VerifyAuditAsync();

        Assert.False(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(3, verify.GetProperty("firstBadSeq").GetInt64());
    }

    [Fact]
    public async Task The_log_reads_in_pages_and_by_wallet()
    {
        var daemon = await WithEntriesAsync();
        await daemon.CreateUnlockedAsync("other");
        (await daemon.SignTransferAsync("other", TestKeys.Stranger(), 1, nonce: 0)).Expect(HttpStatusCode.OK);

        var page = (await daemon.GetAsync("/v1/audit?limit=2")).Expect(HttpStatusCode.OK);
        var next = (await daemon.GetAsync($"/v1/audit?limit=2&after={page.GetProperty("next").GetInt64()}")).Expect(HttpStatusCode.OK);

        Assert.Equal([1L, 2], page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal([3L, 4], next.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal(["other"], (await daemon.AuditAsync("other")).Select(e => e.GetProperty("wallet").GetString()));
        (await daemon.GetAsync("/v1/audit?limit=0")).ExpectProblem(HttpStatusCode.BadRequest, "invalid_parameter");
        (await daemon.GetAsync("/v1/audit?limit=1001")).ExpectProblem(HttpStatusCode.BadRequest, "invalid_parameter");
        Assert.Equal(JsonValueKind.Object, (await daemon.VerifyAuditAsync()).ValueKind);
    }
}
