using System.Net;
using System.Text.Json;

namespace Aitbc.Wallet.Tests.Policy;

/// <summary>
/// Spending policies through the API against a real node: a refused send writes a "refused" audit entry and
/// nothing else — no signature in the answer, no transaction at the node, no balance or nonce moved.
/// </summary>
public sealed class PolicyApiTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private const ulong Fee = WalletHost.Fee;
    private WalletDaemon Daemon => host.Daemon;

    private async Task<Address> FundedAsync(string name, ulong amount = 100 * Ait)
    {
        var address = await Daemon.CreateUnlockedAsync(name);
        await host.FundAsync(address, amount);
        return address;
    }

    /// <summary>Asserts a policy refusal that left no trace but its audit entry.</summary>
    private static void AssertRefused(Reply reply)
    {
        reply.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
        Assert.False(reply.Json.TryGetProperty("tx", out _));
    }

    private async Task AssertLastAuditIsRefusalAsync(string wallet, ulong spend, int expectedEntries)
    {
        var audit = await Daemon.AuditAsync(wallet);
        Assert.Equal(expectedEntries, audit.Count);
        var last = audit[^1];
        Assert.Equal("refused", last.GetProperty("decision").GetString());
        Assert.Equal(WalletDaemon.Str(spend), last.GetProperty("amount").GetString());
        Assert.False(string.IsNullOrEmpty(last.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task A_send_over_the_per_transaction_limit_is_refused_and_nothing_is_signed()
    {
        var from = await FundedAsync("limit-tx");
        var to = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("limit-tx", new { maxPerTx = WalletDaemon.Str(10 * Ait) });

        // 10 AIT plus the fee is over a 10 AIT limit.
        var over = await Daemon.TransferAsync("limit-tx", to, 10 * Ait);

        AssertRefused(over);
        Assert.Contains("per-transaction limit", over.Detail, StringComparison.Ordinal);
        Assert.Equal((100 * Ait, 0L, 0L), await host.AccountAsync(from));
        Assert.Equal(0ul, await host.BalanceAsync(to));
        await AssertLastAuditIsRefusalAsync("limit-tx", (10 * Ait) + Fee, 2); // the policy change, then the refusal

        // Raw signing is held to the same limit.
        AssertRefused(await Daemon.SignTransferAsync("limit-tx", to, 10 * Ait, nonce: 0));
        await AssertLastAuditIsRefusalAsync("limit-tx", (10 * Ait) + Fee, 3);

        // Exactly the limit is allowed.
        var ok = (await Daemon.TransferAsync("limit-tx", to, (10 * Ait) - Fee)).Expect(HttpStatusCode.OK);
        Assert.Equal(0, ok.GetProperty("tx").GetProperty("nonce").GetInt64());
        Assert.Equal(((90 * Ait), 1L, 1L), await host.AccountAsync(from));
        Assert.Equal((10 * Ait) - Fee, await host.BalanceAsync(to));
    }

    [Fact]
    public async Task A_send_over_the_daily_limit_is_refused_and_nothing_is_signed()
    {
        var from = await FundedAsync("limit-day");
        var to = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("limit-day", new { maxPerDay = WalletDaemon.Str(20 * Ait) });

        (await Daemon.TransferAsync("limit-day", to, 9 * Ait)).Expect(HttpStatusCode.OK);
        (await Daemon.TransferAsync("limit-day", to, 9 * Ait)).Expect(HttpStatusCode.OK);
        var over = await Daemon.TransferAsync("limit-day", to, 2 * Ait);

        AssertRefused(over);
        Assert.Contains("daily limit", over.Detail, StringComparison.Ordinal);
        var spent = (18 * Ait) + (2 * Fee);
        Assert.Equal(((100 * Ait) - spent, 2L, 2L), await host.AccountAsync(from));
        Assert.Equal(18 * Ait, await host.BalanceAsync(to));
        await AssertLastAuditIsRefusalAsync("limit-day", (2 * Ait) + Fee, 4); // with the policy change

        // Locking and unlocking does not reset the day: the window is rebuilt from the audit log.
        (await Daemon.PostAsync("/v1/wallets/limit-day/lock", new { })).Expect(HttpStatusCode.OK);
        await Daemon.UnlockAsync("limit-day", 600);
        AssertRefused(await Daemon.TransferAsync("limit-day", to, 2 * Ait));
        (await Daemon.TransferAsync("limit-day", to, (2 * Ait) - (3 * Fee))).Expect(HttpStatusCode.OK); // the rest fits exactly
        AssertRefused(await Daemon.TransferAsync("limit-day", to, 0));
        Assert.Equal(((100 * Ait) - (20 * Ait), 3L, 3L), await host.AccountAsync(from));
    }

    [Fact]
    public async Task Only_allowed_recipients_can_be_paid()
    {
        var from = await FundedAsync("allow-to");
        var friend = TestKeys.Stranger();
        var stranger = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("allow-to", new { allowedRecipients = new[] { friend.ToString() } });

        var refused = await Daemon.TransferAsync("allow-to", stranger, Ait);

        AssertRefused(refused);
        Assert.Contains("not on the wallet's allowed list", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(0ul, await host.BalanceAsync(stranger));
        (await Daemon.TransferAsync("allow-to", friend, Ait)).Expect(HttpStatusCode.OK);
        Assert.Equal(Ait, await host.BalanceAsync(friend));
        Assert.Equal(((99 * Ait) - Fee, 1L, 1L), await host.AccountAsync(from));
    }

    [Fact]
    public async Task Only_allowed_providers_can_be_paid_through_escrow()
    {
        var client = await FundedAsync("allow-provider");
        var provider = TestKeys.Stranger();
        var other = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("allow-provider", new { allowedProviders = new[] { provider.ToString() } });
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();

        var refused = await Daemon.PostAsync("/v1/wallets/allow-provider/escrow/lock",
            new { jobId = "job-other", provider = other.ToString(), amount = WalletDaemon.Str(5 * Ait), expiresAt, wait = true });

        AssertRefused(refused);
        Assert.Equal(HttpStatusCode.NotFound, (await host.NodeGetReplyAsync("/v1/escrows/job-other")).Status);
        Assert.Equal((100 * Ait, 0L, 0L), await host.AccountAsync(client));

        var locked = await Daemon.PostAsync("/v1/wallets/allow-provider/escrow/lock",
            new { jobId = "job-allowed", provider = provider.ToString(), amount = WalletDaemon.Str(5 * Ait), expiresAt, wait = true });
        Assert.Equal("committed", locked.Expect(HttpStatusCode.OK).GetProperty("status").GetString());
        var escrow = await host.NodeGetAsync("/v1/escrows/job-allowed");
        Assert.Equal(("locked", provider.ToString()), (escrow.GetProperty("status").GetString(), escrow.GetProperty("provider").GetString()));
        Assert.Equal((95 * Ait) - Fee, await host.BalanceAsync(client));
    }

    [Fact]
    public async Task A_policy_is_stored_shown_and_needs_the_wallet_unlocked_to_change()
    {
        await Daemon.CreateAsync("policy-show");
        var policy = new { maxPerTx = "5", maxPerDay = "50", allowedRecipients = new[] { TestKeys.Stranger().ToString() } };

        (await Daemon.PutAsync("/v1/wallets/policy-show/policy", policy)).ExpectProblem((HttpStatusCode)423, "locked");
        await Daemon.UnlockAsync("policy-show", 60);
        var set = (await Daemon.PutAsync("/v1/wallets/policy-show/policy", policy)).Expect(HttpStatusCode.OK);

        var shown = (await Daemon.GetAsync("/v1/wallets/policy-show")).Expect(HttpStatusCode.OK).GetProperty("policy");
        Assert.Equal(JsonSerializer.Serialize(set.GetProperty("policy")), JsonSerializer.Serialize(shown));
        Assert.Equal("5", shown.GetProperty("maxPerTx").GetString());
        Assert.Equal("50", shown.GetProperty("maxPerDay").GetString());
        Assert.Single(shown.GetProperty("allowedRecipients").EnumerateArray());

        // Kept across lock and unlock (and its MAC still holds).
        (await Daemon.PostAsync("/v1/wallets/policy-show/lock", new { })).Expect(HttpStatusCode.OK);
        await Daemon.UnlockAsync("policy-show", 60);
        AssertRefused(await Daemon.SignTransferAsync("policy-show", TestKeys.Stranger(), 1, nonce: 0));
    }

    [Fact]
    public async Task A_policy_with_an_unknown_field_or_a_bad_amount_is_refused_and_the_old_one_kept()
    {
        await Daemon.CreateUnlockedAsync("policy-bad");
        await Daemon.SetPolicyAsync("policy-bad", new { maxPerTx = "5" });
        var before = Daemon.Row("policy-bad");

        (await Daemon.PutAsync("/v1/wallets/policy-bad/policy", """{"maxPerTx":"5","maxPerWeek":"9"}""")).ExpectProblem(HttpStatusCode.BadRequest, "malformed_request");
        (await Daemon.PutAsync("/v1/wallets/policy-bad/policy", """{"maxPerTx":-5}""")).ExpectProblem(HttpStatusCode.BadRequest, "malformed_request");
        (await Daemon.PutAsync("/v1/wallets/policy-bad/policy", """{"maxPerTx":"1.5"}""")).ExpectProblem(HttpStatusCode.BadRequest, "malformed_request");
        (await Daemon.PutAsync("/v1/wallets/policy-bad/policy", """{"allowedRecipients":["ait1nope"]}""")).ExpectProblem(HttpStatusCode.BadRequest, "malformed_request");

        Assert.Equal(before, Daemon.Row("policy-bad"));
    }
}
