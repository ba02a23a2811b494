using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Signing;

namespace Aitbc.Wallet.Tests.Signing;

/// <summary>Unlock and lock on a manual clock: an unlock lasts exactly as long as asked, and a locked wallet signs nothing.</summary>
public sealed class WalletSignerTests
{
    [Fact]
    public async Task An_unlock_expires_exactly_when_its_time_runs_out()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        var start = h.Time.GetUtcNow();
        h.Unlock("w", TimeSpan.FromSeconds(60));
        Assert.Equal(start.AddSeconds(60), h.Signer.UnlockedUntil("w"));

        h.Time.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(h.Signer.UnlockedUntil("w"));
        var (tx, error) = await h.TransferAsync("w", 5, nonce: 0);
        Assert.Null(error);
        Assert.True(tx!.VerifySignature());

        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(h.Signer.UnlockedUntil("w"));
        var (late, refused) = await h.TransferAsync("w", 5, nonce: 1);
        Assert.Null(late);
        Assert.Equal("locked", refused!.Code);
        Assert.Single(h.Audit.Read("w", 0, 100)); // a locked wallet's attempt is no signing decision
    }

    [Fact]
    public async Task The_default_unlock_lasts_five_minutes()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");

        h.Time.Advance(WalletSigner.DefaultUnlock - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(h.Signer.UnlockedUntil("w"));
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(h.Signer.UnlockedUntil("w"));
        Assert.Equal("locked", (await h.TransferAsync("w", 1)).Error!.Code);
    }

    [Fact]
    public async Task Unlocking_again_sets_a_new_expiry()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w", TimeSpan.FromSeconds(10));
        h.Time.Advance(TimeSpan.FromSeconds(9));
        h.Unlock("w", TimeSpan.FromSeconds(10));

        h.Time.Advance(TimeSpan.FromSeconds(5));

        Assert.Null((await h.TransferAsync("w", 1)).Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(86_401)]
    public async Task An_unlock_duration_out_of_range_is_refused(int seconds)
    {
        await using var h = new SignerHarness();
        h.Create("w");

        var (expires, error) = h.Signer.Unlock("w", SignerHarness.Password, TimeSpan.FromSeconds(seconds));

        Assert.Null(expires);
        Assert.Equal("invalid_duration", error!.Code);
        Assert.Null(h.Signer.UnlockedUntil("w"));
    }

    [Fact]
    public async Task Lock_forgets_the_key_at_once()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w", TimeSpan.FromHours(1));

        Assert.True(h.Signer.Lock("w"));

        Assert.False(h.Signer.Lock("w"));
        Assert.Null(h.Signer.UnlockedUntil("w"));
        Assert.Equal("locked", (await h.TransferAsync("w", 1)).Error!.Code);
    }

    [Fact]
    public async Task A_wrong_password_is_refused_and_nothing_is_unlocked()
    {
        await using var h = new SignerHarness();
        h.Create("w");

        var (expires, error) = h.Signer.Unlock("w", "not the password", TimeSpan.FromMinutes(1));

        Assert.Null(expires);
        Assert.Equal("wrong_password", error!.Code);
        Assert.Equal("locked", (await h.TransferAsync("w", 1)).Error!.Code);
        Assert.Equal("not_found", h.Signer.Unlock("nobody", SignerHarness.Password, null).Error!.Code);
    }

    [Fact]
    public async Task Every_signature_is_on_disk_in_the_audit_log_before_it_is_returned()
    {
        await using var h = new SignerHarness();
        var address = h.Create("w");
        h.Unlock("w");

        var (tx, _) = await h.TransferAsync("w", 7, nonce: 3, fee: 1_500);

        var entry = Assert.Single(h.Audit.Read("w", 0, 10));
        Assert.Equal((tx!.Id, AuditEntry.Signed, address, new Amount(7 + 1_500)), (entry.TxId, entry.Decision, entry.Address, entry.Amount));
        Assert.Equal(h.Time.GetUtcNow().ToUnixTimeMilliseconds(), entry.Time);
        Assert.True(h.Audit.Verify(h.Signer.AuditKeys()).Intact);
    }

    [Fact]
    public async Task A_nonce_out_of_range_is_refused_before_the_policy_or_the_log()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");

        var (tx, error) = await h.TransferAsync("w", 1, nonce: -1);

        Assert.Null(tx);
        Assert.Equal("invalid_nonce", error!.Code);
        Assert.Empty(h.Audit.Read(null, 0, 10));
    }
}
