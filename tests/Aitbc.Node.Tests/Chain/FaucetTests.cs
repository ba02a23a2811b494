using Aitbc.Node.Chain;

namespace Aitbc.Node.Tests.Chain;

/// <summary>The faucet pays with real signed transfers from its account, one address at a time per cooldown.</summary>
public sealed class FaucetTests
{
    private const ulong Ait = TestChain.Ait;
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(60);
    private static readonly System.Net.IPAddress Here = System.Net.IPAddress.Loopback;

    private static TestChain Chain() =>
        TestChain.New().Fund(TestKeys.Faucet, 1_000_000 * Ait).WithParams(p => p with { Faucet = TestKeys.Faucet.Address, FaucetAmount = new Amount(100 * Ait) }).Open();

    [Fact]
    public void A_payment_is_a_signed_transfer_that_commits_like_any_other()
    {
        using var c = Chain();
        var node = NodeParts.For(c);
        var faucet = new Faucet(c.Chain, node.Admission, TestKeys.Faucet, new FaucetLimits(Cooldown), new ManualClock());
        var to = TestKeys.Named("faucet-user").Address;

        var (tx, error) = faucet.Send(to, null, Here);

        Assert.Null(error);
        Assert.True(tx!.VerifySignature());
        Assert.Equal(TestKeys.Faucet.Address, tx.From);
        Assert.Equal(new TransferBody(to, new Amount(100 * Ait), "faucet"), tx.Body);
        Assert.True(node.Pool.Contains(tx.Id));
        node.ProduceFromPool(c);
        Assert.Equal(new Amount(100 * Ait), c.Chain.State.Account(to).Balance);
    }

    [Fact]
    public void An_address_waits_for_the_cooldown_while_others_are_paid_with_the_next_nonces()
    {
        using var c = Chain();
        var node = NodeParts.For(c);
        var clock = new ManualClock();
        var faucet = new Faucet(c.Chain, node.Admission, TestKeys.Faucet, new FaucetLimits(Cooldown), clock);
        var to = TestKeys.Named("faucet-user").Address;
        var other = TestKeys.Named("faucet-other").Address;
        Assert.Null(faucet.Send(to, null, Here).Refusal);

        var (again, limited) = faucet.Send(to, null, Here);
        var (toOther, none) = faucet.Send(other, new Amount(5), Here);
        clock.Advance(Cooldown - TimeSpan.FromSeconds(1));
        var (_, stillLimited) = faucet.Send(to, null, Here);
        clock.Advance(TimeSpan.FromSeconds(1));
        var (later, afterCooldown) = faucet.Send(to, null, Here);

        Assert.Null(again);
        Assert.Equal(RefusalCode.RateLimited, limited!.Value.Code);
        Assert.Equal($"{to} was paid recently; try again in 60 s", limited.Value.Detail);
        Assert.Null(none);
        Assert.Equal(1, toOther!.Nonce);
        Assert.Equal($"{to} was paid recently; try again in 1 s", stillLimited!.Value.Detail);
        Assert.Null(afterCooldown);
        Assert.Equal(2, later!.Nonce);
        var built = node.ProduceFromPool(c);
        Assert.Equal(3, built.Block.Transactions.Count);
        Assert.Equal(new Amount(200 * Ait), c.Chain.State.Account(to).Balance);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData((100 * Ait) + 1)]
    public void An_amount_outside_1_to_the_faucet_amount_is_refused(ulong units)
    {
        using var c = Chain();
        var node = NodeParts.For(c);
        var faucet = new Faucet(c.Chain, node.Admission, TestKeys.Faucet, new FaucetLimits(Cooldown), new ManualClock());

        var (tx, error) = faucet.Send(TestKeys.Named("faucet-user").Address, new Amount(units), Here);

        Assert.Null(tx);
        Assert.Equal(RefusalCode.InvalidAmount, error!.Value.Code);
        Assert.Equal(0, node.Pool.Count);
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.FromUnixTimeMilliseconds(TestChain.GenesisTime);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
