using Aitbc.Node.Chain;

namespace Aitbc.Node.Tests.Chain;

/// <summary>Transfers and the rules every transaction meets (chain id, nonce, fee, overflow), through blocks built on a real chain.</summary>
public sealed class ExecutorTests
{
    private const ulong Ait = TestChain.Ait;
    private const ulong Fee = TestChain.Fee;
    private static readonly Ed25519Key Alice = TestKeys.Alice;
    private static readonly Ed25519Key Bob = TestKeys.Bob;

    private static TestChain Funded() => TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, 10 * Ait).Open();

    [Fact]
    public void Transfer_moves_exactly_the_amount_and_pays_the_fee_to_the_proposer()
    {
        using var c = Funded();

        c.ProduceOk(Tx.Transfer(Bob, 250 * Ait).WithFee(5_000).SignedBy(Alice));

        Assert.Equal(new AccountState(new Amount((750 * Ait) - 5_000), 1), c.Account(Alice));
        Assert.Equal(new AccountState(new Amount(260 * Ait), 0), c.Account(Bob));
        Assert.Equal(new AccountState(new Amount(5_000), 0), c.Account(c.Validator));
    }

    [Fact]
    public void Every_fee_of_a_block_goes_to_its_proposer_and_nonces_advance_one_per_transaction()
    {
        using var c = Funded();

        c.ProduceOk(
            Tx.Transfer(Bob, 1).WithFee(Fee).SignedBy(Alice),
            Tx.Transfer(Bob, 2).WithFee(2 * Fee).WithNonce(1).SignedBy(Alice),
            Tx.Transfer(Alice, 3).WithFee(3 * Fee).SignedBy(Bob));

        Assert.Equal(new Amount(6 * Fee), c.Balance(c.Validator));
        Assert.Equal(new AccountState(new Amount((1_000 * Ait) - 3 - (3 * Fee) + 3), 2), c.Account(Alice));
        Assert.Equal(new AccountState(new Amount((10 * Ait) + 3 - 3 - (3 * Fee)), 1), c.Account(Bob));
    }

    [Fact]
    public void A_sender_may_spend_its_whole_balance()
    {
        using var c = Funded();

        c.ProduceOk(Tx.Transfer(Alice, (10 * Ait) - Fee).SignedBy(Bob));

        Assert.Equal(new AccountState(Amount.Zero, 1), c.Account(Bob));
    }

    [Fact]
    public void Double_spend_the_second_transaction_is_refused()
    {
        using var c = Funded();
        var first = Tx.Transfer(Bob, 600 * Ait).SignedBy(Alice);
        var second = Tx.Transfer(TestKeys.Carol.Address, 600 * Ait).WithNonce(1).SignedBy(Alice);

        c.AssertRefusedAfter([first], second,
            $"insufficient balance: {(400 * Ait) - Fee} available, {(600 * Ait) + Fee} needed");

        Assert.Equal(new AccountState(new Amount((400 * Ait) - Fee), 1), c.Account(Alice));
        Assert.Equal(Amount.Zero, c.Balance(TestKeys.Carol));
    }

    [Fact]
    public void Transfer_over_the_balance_is_refused()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Alice, 10 * Ait).SignedBy(Bob),
            $"insufficient balance: {10 * Ait} available, {(10 * Ait) + Fee} needed");
    }

    [Fact]
    public void An_empty_account_cannot_pay_a_fee()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Alice, 1).SignedBy(TestKeys.Carol), $"insufficient balance: 0 available, {1 + Fee} needed");
    }

    [Fact]
    public void A_transaction_committed_on_one_chain_is_refused_on_another()
    {
        using var here = Funded();
        using var there = TestChain.New().WithChainId("aitbc-other").Fund(Alice, 1_000 * Ait).Fund(Bob, 10 * Ait).Open();
        var tx = Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice);
        here.ProduceOk(tx);

        there.AssertRefused(tx, "wrong chain id 'aitbc-test' (this chain is 'aitbc-other')");
    }

    [Fact]
    public void A_used_nonce_is_refused_also_for_the_same_transaction_again()
    {
        using var c = Funded();
        var tx = Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice);
        c.ProduceOk(tx);

        c.AssertRefused(tx, "nonce 0 already used (next is 1)");
        c.AssertRefused(Tx.Transfer(Bob, 7).SignedBy(Alice), "nonce 0 already used (next is 1)");
    }

    [Fact]
    public void A_nonce_ahead_of_the_account_is_refused()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Bob, 5).WithNonce(3).SignedBy(Alice), "nonce 3 is ahead of the account's next nonce 0");
    }

    [Fact]
    public void Amount_plus_fee_overflowing_64_bits_is_refused()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Bob, ulong.MaxValue).SignedBy(Alice), "amount plus fee overflows");
    }

    [Fact]
    public void A_transfer_that_would_overflow_the_recipient_is_refused()
    {
        // A valid genesis caps the supply at 2^64-1, which makes this unreachable; the executor must still guard it.
        using var c = TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, ulong.MaxValue - 10).WithoutSupplyCheck().Open();

        c.AssertRefused(Tx.Transfer(Bob, 11).SignedBy(Alice), "the recipient's balance would overflow");
        c.ProduceOk(Tx.Transfer(Bob, 10).SignedBy(Alice));
        Assert.Equal(new Amount(ulong.MaxValue), c.Balance(Bob));
    }

    [Fact]
    public void A_fee_that_would_overflow_the_proposer_is_refused()
    {
        using var c = TestChain.New().Fund(Alice, 1_000 * Ait).Fund(TestKeys.Validator, ulong.MaxValue - Fee + 1).WithoutSupplyCheck().Open();

        c.AssertRefused(Tx.Transfer(Bob, 1).SignedBy(Alice), "the proposer's balance would overflow");
    }

    [Fact]
    public void A_fee_below_the_minimum_is_refused()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Bob, 5).WithFee(Fee - 1).SignedBy(Alice), $"fee {Fee - 1} is below the minimum {Fee}");
    }

    [Fact]
    public void A_zero_transfer_is_refused()
    {
        using var c = Funded();

        c.AssertRefused(Tx.Transfer(Bob, 0).SignedBy(Alice), "transfer amount must be positive");
    }

    [Fact]
    public void A_refused_transaction_stalls_its_sender_but_not_others_in_the_same_block()
    {
        using var c = Funded();
        var refused = Tx.Transfer(Bob, 0).SignedBy(Alice);
        var laterNonce = Tx.Transfer(Bob, 5).WithNonce(1).SignedBy(Alice);
        var other = Tx.Transfer(Alice, 5).SignedBy(Bob);

        var built = c.Produce(refused, laterNonce, other);

        Assert.Equal([other.Id], built.Block.Transactions.Select(t => t.Id));
        var (tx, reason) = Assert.Single(built.Rejected);
        Assert.Equal(refused.Id, tx.Id);
        Assert.Equal("transfer amount must be positive", reason);
        Assert.Equal(0, c.Account(Alice).Nonce);
    }
}
