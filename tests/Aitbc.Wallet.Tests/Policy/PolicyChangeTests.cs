using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Tests.Policy;

/// <summary>An agent holding an unlocked wallet may tighten its policy, but loosening it needs the wallet's password.</summary>
public sealed class PolicyChangeTests
{
    [Fact]
    public async Task Tightening_needs_no_password_but_loosening_does()
    {
        await using var h = new SignerHarness();
        h.Create("w");
        h.Unlock("w");
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerTx: new Amount(10_000)))).Error);
        Assert.Null((await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerTx: new Amount(5_000)))).Error);

        Assert.Equal("password_required", (await h.Signer.SetPolicyAsync("w", new SpendingPolicy(MaxPerTx: new Amount(6_000)))).Error!.Code);
        Assert.Equal("password_required", (await h.Signer.SetPolicyAsync("w", SpendingPolicy.Unlimited)).Error!.Code);
        Assert.Equal("wrong_password", (await h.Signer.SetPolicyAsync("w", SpendingPolicy.Unlimited, "not the password")).Error!.Code);
        Assert.Equal(new Amount(5_000), h.Keystore.Get("w")!.Policy.MaxPerTx);

        Assert.Null((await h.Signer.SetPolicyAsync("w", SpendingPolicy.Unlimited, SignerHarness.Password)).Error);
        Assert.Null(h.Keystore.Get("w")!.Policy.MaxPerTx);
    }

    [Fact]
    public void Without_a_providers_list_the_recipients_list_limits_escrow_locks_too()
    {
        var allowed = Ed25519Key.Generate().Address;
        var other = Ed25519Key.Generate().Address;
        var policy = new SpendingPolicy(AllowedRecipients: [allowed]);
        Assert.Null(policy.Check(new EscrowLockBody("job-1", allowed, new Amount(5), 1), new Amount(1_000), Amount.Zero));
        Assert.Contains("not on the wallet's allowed list", policy.Check(new EscrowLockBody("job-1", other, new Amount(5), 1), new Amount(1_000), Amount.Zero), StringComparison.Ordinal);
        Assert.Null((policy with { AllowedProviders = [other] }).Check(new EscrowLockBody("job-1", other, new Amount(5), 1), new Amount(1_000), Amount.Zero));
    }
}
