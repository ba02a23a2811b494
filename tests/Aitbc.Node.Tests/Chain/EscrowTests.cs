using Aitbc.Node.Chain;

namespace Aitbc.Node.Tests.Chain;

/// <summary>escrow.lock, escrow.settle and escrow.refund: every rule of DESIGN.md, each refusal with its reason and no trace.</summary>
public sealed class EscrowTests
{
    private const ulong Ait = TestChain.Ait;
    private const ulong Fee = TestChain.Fee;
    private const string Job = "job-1";
    private const ulong Locked = 100 * Ait;
    private static readonly Ed25519Key Client = TestKeys.Alice;
    private static readonly Ed25519Key Provider = TestKeys.Provider;
    private static readonly Ed25519Key Stranger = TestKeys.Carol;

    /// <summary>A chain where the client has 1,000 AIT, the stranger 10, and the provider what it is given (nothing by default).</summary>
    private static TestChain Chain(ulong providerFunds = 0)
    {
        var b = TestChain.New().Fund(Client, 1_000 * Ait).Fund(Stranger, 10 * Ait);
        return (providerFunds > 0 ? b.Fund(Provider, providerFunds) : b).Open();
    }

    /// <summary>Commits the client's lock of 100 AIT for <see cref="Job"/>, expiring a minute after the genesis.</summary>
    private static long LockJob(TestChain c)
    {
        var expiresAt = TestChain.GenesisTime + 60_000;
        c.ProduceOk(Tx.Lock(Job, Provider.Address, Locked, expiresAt).SignedBy(Client));
        return expiresAt;
    }

    [Fact]
    public void Lock_debits_the_client_and_locks_the_escrow()
    {
        using var c = Chain();
        var expiresAt = TestChain.GenesisTime + 60_000;

        var built = c.ProduceOk(Tx.Lock(Job, Provider.Address, Locked, expiresAt).SignedBy(Client));

        Assert.Equal(new AccountState(new Amount((1_000 * Ait) - Locked - Fee), 1), c.Account(Client));
        Assert.Equal(new EscrowState(Job, Client.Address, Provider.Address, new Amount(Locked), expiresAt, EscrowStatus.Locked, built.Block.Height),
            c.Escrow(Job));
        Assert.Equal(new Amount(Fee), c.Balance(c.Validator));
        Assert.Equal(Amount.Zero, c.Balance(Provider));
    }

    [Fact]
    public void Lock_with_a_job_id_that_is_locked_is_refused()
    {
        using var c = Chain();
        LockJob(c);

        c.AssertRefused(Tx.Lock(Job, Stranger.Address, 1 * Ait, TestChain.GenesisTime + 120_000).SignedBy(Stranger),
            $"an escrow for job '{Job}' already exists");
    }

    [Fact]
    public void Job_ids_are_unique_forever_also_after_the_escrow_closed()
    {
        using var c = Chain();
        LockJob(c);
        c.ProduceOk(Tx.Settle(Job, 1 * Ait).SignedBy(Provider));

        c.AssertRefused(Tx.Lock(Job, Provider.Address, 1 * Ait, TestChain.GenesisTime + 120_000).WithNonce(1).SignedBy(Client),
            $"an escrow for job '{Job}' already exists");
    }

    [Fact]
    public void Two_locks_of_one_job_id_in_one_block_the_second_is_refused()
    {
        using var c = Chain();
        var expiresAt = TestChain.GenesisTime + 60_000;
        var first = Tx.Lock(Job, Provider.Address, Locked, expiresAt).SignedBy(Client);
        var second = Tx.Lock(Job, Stranger.Address, 1 * Ait, expiresAt).SignedBy(Stranger);

        c.AssertRefusedAfter([first], second, $"an escrow for job '{Job}' already exists");

        Assert.Equal(Client.Address, c.Escrow(Job)!.Client);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-60_000)]
    public void Lock_that_expires_at_or_before_the_block_time_is_refused(long offset)
    {
        using var c = Chain();
        var blockTime = c.NextTime;

        c.AssertRefused(Tx.Lock(Job, Provider.Address, Locked, blockTime + offset).SignedBy(Client),
            $"expiresAt {blockTime + offset} is not after the block time {blockTime}", blockTime);
    }

    [Fact]
    public void Lock_of_nothing_is_refused()
    {
        using var c = Chain();

        c.AssertRefused(Tx.Lock(Job, Provider.Address, 0, TestChain.GenesisTime + 60_000).SignedBy(Client), "escrow amount must be positive");
    }

    [Fact]
    public void Lock_over_the_balance_is_refused()
    {
        using var c = Chain();

        c.AssertRefused(Tx.Lock(Job, Provider.Address, 1_000 * Ait, TestChain.GenesisTime + 60_000).SignedBy(Client),
            $"insufficient balance: {1_000 * Ait} available, {(1_000 * Ait) + Fee} needed");
    }

    [Fact]
    public void Lock_whose_amount_plus_fee_overflows_is_refused()
    {
        using var c = Chain();

        c.AssertRefused(Tx.Lock(Job, Provider.Address, ulong.MaxValue, TestChain.GenesisTime + 60_000).SignedBy(Client),
            "amount plus fee overflows");
    }

    [Fact]
    public void Settle_pays_the_provider_returns_the_rest_at_once_and_an_empty_provider_pays_its_fee_from_the_payout()
    {
        using var c = Chain();
        LockJob(c);
        Assert.Equal(default, c.Account(Provider));

        var built = c.ProduceOk(Tx.Settle(Job, 30 * Ait).SignedBy(Provider));

        Assert.Equal(new AccountState(new Amount((30 * Ait) - Fee), 1), c.Account(Provider));
        Assert.Equal(new AccountState(new Amount((1_000 * Ait) - Locked - Fee + (70 * Ait)), 1), c.Account(Client));
        Assert.Equal(new Amount(2 * Fee), c.Balance(c.Validator));
        var escrow = c.Escrow(Job)!;
        Assert.Equal(EscrowStatus.Settled, escrow.Status);
        Assert.Equal(new Amount(30 * Ait), escrow.Paid);
        Assert.Equal(Tx.ReceiptOf(Job), escrow.Receipt);
        Assert.Equal(built.Block.Height, escrow.ClosedHeight);
        Assert.Equal(new Amount(Locked), escrow.Amount);
    }

    [Fact]
    public void Settle_of_the_whole_escrow_returns_nothing_to_the_client()
    {
        using var c = Chain();
        LockJob(c);

        c.ProduceOk(Tx.Settle(Job, Locked).SignedBy(Provider));

        Assert.Equal(new Amount(Locked - Fee), c.Balance(Provider));
        Assert.Equal(new Amount((1_000 * Ait) - Locked - Fee), c.Balance(Client));
    }

    [Fact]
    public void Settle_twice_is_refused()
    {
        using var c = Chain();
        LockJob(c);
        c.ProduceOk(Tx.Settle(Job, 30 * Ait).SignedBy(Provider));

        c.AssertRefused(Tx.Settle(Job, 30 * Ait).WithNonce(1).SignedBy(Provider), $"the escrow for job '{Job}' is already settled");
    }

    [Fact]
    public void Settle_by_anyone_but_the_provider_is_refused()
    {
        using var c = Chain();
        LockJob(c);

        c.AssertRefused(Tx.Settle(Job, 1 * Ait).SignedBy(Stranger), "only the escrow's provider may settle it");
        c.AssertRefused(Tx.Settle(Job, 1 * Ait).WithNonce(1).SignedBy(Client), "only the escrow's provider may settle it");
    }

    [Fact]
    public void Settle_of_more_than_the_escrow_is_refused()
    {
        using var c = Chain();
        LockJob(c);

        c.AssertRefused(Tx.Settle(Job, Locked + 1).SignedBy(Provider), $"settle amount {Locked + 1} exceeds the escrowed {Locked}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3_600_000)]
    public void Settle_at_or_after_expiry_is_refused(long late)
    {
        using var c = Chain();
        var expiresAt = LockJob(c);

        c.AssertRefused(Tx.Settle(Job, 1 * Ait).SignedBy(Provider),
            $"the escrow expired at {expiresAt} (block time {expiresAt + late})", expiresAt + late);
    }

    [Fact]
    public void Settle_just_before_expiry_is_accepted()
    {
        using var c = Chain();
        var expiresAt = LockJob(c);

        c.ProduceOkAt(expiresAt - 1, Tx.Settle(Job, 1 * Ait).SignedBy(Provider));

        Assert.Equal(EscrowStatus.Settled, c.Escrow(Job)!.Status);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(500UL)]
    [InlineData(Fee - 1)]
    public void Settle_by_a_provider_who_cannot_cover_the_fee_even_after_the_payout_is_refused(ulong amount)
    {
        using var c = Chain();
        LockJob(c);

        c.AssertRefused(Tx.Settle(Job, amount).SignedBy(Provider), $"balance {amount} cannot cover the fee {Fee}");

        Assert.Equal(EscrowStatus.Locked, c.Escrow(Job)!.Status);
    }

    [Fact]
    public void Settle_of_an_unknown_job_is_refused()
    {
        using var c = Chain();

        c.AssertRefused(Tx.Settle("no-such-job", 1).SignedBy(Provider), "no escrow for job 'no-such-job'");
    }

    [Fact]
    public void Refund_by_the_client_before_expiry_is_refused()
    {
        using var c = Chain();
        var expiresAt = LockJob(c);
        var blockTime = expiresAt - 1;

        c.AssertRefused(Tx.Refund(Job).WithNonce(1).SignedBy(Client),
            $"the client may refund only once the escrow expires at {expiresAt} (block time {blockTime})", blockTime);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3_600_000)]
    public void Refund_by_the_client_from_expiry_on_returns_the_whole_escrow(long late)
    {
        using var c = Chain();
        var expiresAt = LockJob(c);

        var built = c.ProduceOkAt(expiresAt + late, Tx.Refund(Job).WithNonce(1).SignedBy(Client));

        Assert.Equal(new AccountState(new Amount((1_000 * Ait) - (2 * Fee)), 2), c.Account(Client));
        var escrow = c.Escrow(Job)!;
        Assert.Equal(EscrowStatus.Refunded, escrow.Status);
        Assert.Equal(built.Block.Height, escrow.ClosedHeight);
        Assert.Equal(Amount.Zero, escrow.Paid);
        Assert.Equal(Amount.Zero, c.Balance(Provider));
    }

    [Fact]
    public void Refund_by_the_provider_before_expiry_returns_the_whole_escrow_to_the_client()
    {
        using var c = Chain(providerFunds: 1 * Ait);
        LockJob(c);

        c.ProduceOk(Tx.Refund(Job).SignedBy(Provider));

        Assert.Equal(new AccountState(new Amount((1_000 * Ait) - Fee), 1), c.Account(Client));
        Assert.Equal(new AccountState(new Amount((1 * Ait) - Fee), 1), c.Account(Provider));
        Assert.Equal(EscrowStatus.Refunded, c.Escrow(Job)!.Status);
    }

    [Fact]
    public void Refund_by_the_provider_after_expiry_is_accepted()
    {
        using var c = Chain(providerFunds: 1 * Ait);
        var expiresAt = LockJob(c);

        c.ProduceOkAt(expiresAt + 1_000, Tx.Refund(Job).SignedBy(Provider));

        Assert.Equal(EscrowStatus.Refunded, c.Escrow(Job)!.Status);
    }

    [Fact]
    public void Refund_by_a_provider_who_cannot_pay_the_fee_is_refused()
    {
        using var c = Chain();
        LockJob(c);

        c.AssertRefused(Tx.Refund(Job).SignedBy(Provider), $"balance 0 cannot cover the fee {Fee}");

        Assert.Equal(EscrowStatus.Locked, c.Escrow(Job)!.Status);
    }

    [Fact]
    public void Refund_by_a_third_party_is_refused_before_and_after_expiry()
    {
        using var c = Chain();
        var expiresAt = LockJob(c);

        c.AssertRefused(Tx.Refund(Job).SignedBy(Stranger), "only the escrow's client or provider may refund it", expiresAt - 1);
        c.AssertRefused(Tx.Refund(Job).SignedBy(Stranger), "only the escrow's client or provider may refund it", expiresAt + 1);
    }

    [Fact]
    public void Refund_after_settle_is_refused()
    {
        using var c = Chain();
        var expiresAt = LockJob(c);
        c.ProduceOk(Tx.Settle(Job, 30 * Ait).SignedBy(Provider));

        c.AssertRefused(Tx.Refund(Job).WithNonce(1).SignedBy(Client), $"the escrow for job '{Job}' is already settled", expiresAt + 1);
        c.AssertRefused(Tx.Refund(Job).WithNonce(1).SignedBy(Provider), $"the escrow for job '{Job}' is already settled");
    }

    [Fact]
    public void Settle_or_refund_after_refund_is_refused()
    {
        using var c = Chain(providerFunds: 1 * Ait);
        LockJob(c);
        c.ProduceOk(Tx.Refund(Job).SignedBy(Provider));

        c.AssertRefused(Tx.Settle(Job, 1).WithNonce(1).SignedBy(Provider), $"the escrow for job '{Job}' is already refunded");
        c.AssertRefused(Tx.Refund(Job).WithNonce(1).SignedBy(Provider), $"the escrow for job '{Job}' is already refunded");
    }

    [Fact]
    public void Refund_of_an_unknown_job_is_refused()
    {
        using var c = Chain();

        c.AssertRefused(Tx.Refund("no-such-job").SignedBy(Client), "no escrow for job 'no-such-job'");
    }

    [Fact]
    public void Lock_and_settle_in_one_block_work_in_order()
    {
        using var c = Chain();

        c.ProduceOk(
            Tx.Lock(Job, Provider.Address, Locked, TestChain.GenesisTime + 60_000).SignedBy(Client),
            Tx.Settle(Job, 10 * Ait).SignedBy(Provider));

        Assert.Equal(EscrowStatus.Settled, c.Escrow(Job)!.Status);
        Assert.Equal(new Amount((10 * Ait) - Fee), c.Balance(Provider));
    }
}
