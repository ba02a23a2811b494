using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Tests.Policy;

/// <summary>The daily limit on a manual clock: a rolling 24 hours of amount plus fee, kept across unlocks.</summary>
public sealed class RollingWindowTests
{
    private const ulong Fee = 1_000;

    [Fact]
    public async Task The_daily_limit_is_a_rolling_24_hours_not_a_calendar_day()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w", TimeSpan.FromDays(1));
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerDay: new Amount(10_000)))).Error);

        // T0 and T0+12h: 5,000 each (amount plus fee), exactly the limit together.
        Assert.Null((await h.TransferAsync("w", 4_000, nonce: 0)).Error);
        h.Time.Advance(TimeSpan.FromHours(12));
        Assert.Null((await h.TransferAsync("w", 4_000, nonce: 1)).Error);
        Assert.Equal("policy_refused", (await h.TransferAsync("w", 1, nonce: 2)).Error!.Code);

        // A millisecond before T0+24h the first is still inside the window.
        h.Time.Advance(TimeSpan.FromHours(12) - TimeSpan.FromMilliseconds(1));
        Assert.Equal("policy_refused", (await h.TransferAsync("w", 1, nonce: 2)).Error!.Code);

        // At T0+24h it has left: 5,000 may be spent again, and not one unit more. (The one-day unlock ran out
        // at that instant too, so this also checks that an unlock rebuilds the window from the audit log.)
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("locked", (await h.TransferAsync("w", 1, nonce: 2)).Error!.Code);
        h.Unlock("w", TimeSpan.FromDays(1));
        Assert.Null((await h.TransferAsync("w", 4_000, nonce: 2)).Error);
        Assert.Equal("policy_refused", (await h.TransferAsync("w", 1, nonce: 3)).Error!.Code);

        // At T0+36h the one of T0+12h leaves the window of this (still open) unlock.
        h.Time.Advance(TimeSpan.FromHours(12));
        Assert.Null((await h.TransferAsync("w", 4_000, nonce: 3)).Error);
        Assert.Equal("policy_refused", (await h.TransferAsync("w", 1, nonce: 4)).Error!.Code);

        var decisions = h.Audit.Read("w", 0, 100).Select(e => e.Decision);
        Assert.Equal(
            [AuditEntry.Changed, AuditEntry.Signed, AuditEntry.Signed, AuditEntry.Refused, AuditEntry.Refused, AuditEntry.Signed, AuditEntry.Refused, AuditEntry.Signed, AuditEntry.Refused],
            decisions);
    }

    [Fact]
    public async Task Lock_and_unlock_do_not_reset_the_window()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w", TimeSpan.FromHours(1));
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerDay: new Amount(3_000)))).Error);
        Assert.Null((await h.TransferAsync("w", 1_000, nonce: 0)).Error);

        h.Signer.Lock("w");
        h.Time.Advance(TimeSpan.FromHours(2));
        h.Unlock("w", TimeSpan.FromHours(1));

        Assert.Equal("policy_refused", (await h.TransferAsync("w", 1_001, nonce: 1)).Error!.Code);
        Assert.Null((await h.TransferAsync("w", 0, nonce: 1)).Error); // the fee alone fits: 3,000 exactly
    }

    [Fact]
    public async Task Refused_attempts_do_not_count_against_the_limit()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerDay: new Amount(5_000)))).Error);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("policy_refused", (await h.TransferAsync("w", 10_000)).Error!.Code);
        }

        Assert.Null((await h.TransferAsync("w", 4_000)).Error);
    }

    [Fact]
    public async Task Concurrent_signers_cannot_together_pass_the_daily_limit()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerDay: new Amount(10_000)))).Error);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => h.TransferAsync("w", 1_000, nonce: i))));

        Assert.Equal(5, results.Count(r => r.Tx is not null));
        Assert.Equal(15, results.Count(r => r.Error?.Code == "policy_refused"));
        Assert.Equal(5, h.Audit.Read("w", 0, 100).Count(e => e.Decision == AuditEntry.Signed));
    }

    [Fact]
    public async Task The_per_transaction_limit_counts_amount_plus_fee()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerTx: new Amount(5_000)))).Error);

        Assert.Null((await h.TransferAsync("w", 5_000 - Fee)).Error);
        var (tx, error) = await h.TransferAsync("w", 5_000 - Fee + 1);

        Assert.Null(tx);
        Assert.Equal("policy_refused", error!.Code);
        Assert.Contains("per-transaction limit of 5000", error.Message, StringComparison.Ordinal);
    }
}
