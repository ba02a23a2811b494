using Aitbc.Node.Chain;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;

namespace Aitbc.Node.Tests.Mempool;

/// <summary>Admission (signature once, nonces, funds), per-sender nonce queues, fee priority and the pool's bound.</summary>
public sealed class TxPoolTests
{
    private const ulong Ait = TestChain.Ait;
    private const ulong Fee = TestChain.Fee;
    private static readonly Ed25519Key Alice = TestKeys.Alice;
    private static readonly Ed25519Key Bob = TestKeys.Bob;
    private static readonly Ed25519Key Carol = TestKeys.Carol;

    private static TestChain Funded() =>
        TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, 1_000 * Ait).Fund(Carol, 1_000 * Ait).Open();

    private static void AssertAdmitted(TxPool pool, Transaction tx) => Assert.Null(pool.Add(tx));

    private static void AssertRefused(TxPool pool, Transaction tx, RefusalCode code, string detail)
    {
        var count = pool.Count;
        var wasPending = pool.Contains(tx.Id);
        var refusal = pool.Add(tx);
        Assert.NotNull(refusal);
        Assert.Equal(code, refusal.Value.Code);
        Assert.Equal(detail, refusal.Value.Detail);
        Assert.Equal(count, pool.Count);
        Assert.Equal(wasPending, pool.Contains(tx.Id));
    }

    [Fact]
    public void Admission_checks_the_signature_and_refuses_a_bad_one_without_admitting_it()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var good = Tx.Transfer(Bob, 1 * Ait).SignedBy(Alice);
        var bad = Tx.WithBadSignature(Tx.Transfer(Bob, 2 * Ait).SignedBy(Alice));

        var (refusedTx, refusal) = node.Admission.Admit(bad.ToJsonBytes());
        var (admittedTx, none) = node.Admission.Admit(good.ToJsonBytes());

        Assert.False(node.Pool.Contains(refusedTx!.Id));
        Assert.Equal(RefusalCode.BadSignature, refusal!.Value.Code);
        Assert.Equal($"the signature does not verify for {Alice.Address}", refusal.Value.Detail);
        Assert.Null(none);
        Assert.Equal(good.Id, admittedTx!.Id);
        Assert.Equal(1, node.Pool.Count);
        Assert.True(node.Pool.Contains(good.Id));
    }

    [Fact]
    public void A_block_reuses_the_admission_check_while_an_imported_block_is_verified_in_full()
    {
        // The pool's Add is called only after the signature verified; building a block does not verify it again.
        using var c = Funded();
        var node = NodeParts.For(c);
        var bad = Tx.WithBadSignature(Tx.Transfer(Bob, 2 * Ait).SignedBy(Alice));
        AssertAdmitted(node.Pool, bad);

        var built = c.Build([.. node.Pool.SelectReady(10)]).Block;

        Assert.Equal([bad.Id], built.Transactions.Select(t => t.Id));
        using var peer = TestChain.Open(c.Genesis, new Node.Storage.MemoryStore());
        Assert.Equal($"transaction {bad.Id} has an invalid signature", peer.Chain.Import(built));
    }

    [Fact]
    public void One_sender_s_100_transactions_with_nonces_0_to_99_all_land_in_one_block()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var txs = Enumerable.Range(0, 100).Select(n => Tx.Transfer(Bob, (ulong)n + 1).WithNonce(n).SignedBy(Alice)).ToArray();
        // Out of order, but never more than the allowed gap past the executable run.
        foreach (var tx in txs.OrderBy(t => (t.Nonce / 16 * 16) + ((t.Nonce * 7) % 16)))
        {
            AssertAdmitted(node.Pool, tx);
        }
        Assert.Equal(100, node.Pool.NextNonce(Alice.Address));

        var built = node.ProduceFromPool(c);

        Assert.Empty(built.Rejected);
        Assert.Equal(txs.Select(t => t.Id), built.Block.Transactions.Select(t => t.Id));
        Assert.Equal(100, c.Account(Alice).Nonce);
        Assert.Equal(new Amount((1_000 * Ait) + (100 * 101 / 2)), c.Balance(Bob));
        Assert.Equal(0, node.Pool.Count);
    }

    [Fact]
    public void Higher_fees_are_selected_first_across_senders_each_in_nonce_order()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var aliceLow = Tx.Transfer(Carol, 1).WithFee(Fee).SignedBy(Alice);
        var bobHigh = Tx.Transfer(Carol, 1).WithFee(5 * Fee).SignedBy(Bob);
        var bobNextLow = Tx.Transfer(Carol, 1).WithFee(Fee).WithNonce(1).SignedBy(Bob);
        var carolMiddle = Tx.Transfer(Alice, 1).WithFee(3 * Fee).SignedBy(Carol);
        var carolNextHighest = Tx.Transfer(Alice, 1).WithFee(9 * Fee).WithNonce(1).SignedBy(Carol);
        foreach (var tx in new[] { aliceLow, carolNextHighest, bobNextLow, carolMiddle, bobHigh })
        {
            AssertAdmitted(node.Pool, tx);
        }

        var order = node.Pool.SelectReady(10);
        var top = node.Pool.SelectReady(1);

        // Carol's 9x fee waits behind her nonce 0; among equal fees the older arrival goes first.
        Assert.Equal([bobHigh.Id, carolMiddle.Id, carolNextHighest.Id, aliceLow.Id, bobNextLow.Id], order.Select(t => t.Id));
        Assert.Equal([bobHigh.Id], top.Select(t => t.Id));
    }

    [Fact]
    public void A_full_pool_refuses_clearly_and_takes_again_once_a_block_drains_it()
    {
        using var c = Funded();
        var node = NodeParts.For(c, capacity: 3);
        for (var n = 0; n < 3; n++)
        {
            AssertAdmitted(node.Pool, Tx.Transfer(Bob, 1).WithNonce(n).SignedBy(Alice));
        }

        AssertRefused(node.Pool, Tx.Transfer(Alice, 1).SignedBy(Bob), RefusalCode.MempoolFull, "the mempool holds its maximum of 3 transactions");
        Assert.Equal(503, RefusalProblems.ErrorOf(RefusalCode.MempoolFull).Status);

        node.ProduceFromPool(c);
        AssertAdmitted(node.Pool, Tx.Transfer(Alice, 1).SignedBy(Bob));
    }

    [Fact]
    public void A_full_pool_evicts_its_lowest_fee_gapped_transaction_for_one_that_can_run()
    {
        using var c = Funded();
        var pool = new TxPool(c.Chain, new PoolLimits(2), TimeProvider.System);
        var aliceGapped = Tx.Transfer(Bob, 1).WithNonce(5).WithFee(3 * Fee).SignedBy(Alice);
        var bobGapped = Tx.Transfer(Alice, 1).WithNonce(3).WithFee(2 * Fee).SignedBy(Bob);
        AssertAdmitted(pool, aliceGapped);
        AssertAdmitted(pool, bobGapped);
        Assert.Equal(2, pool.GappedCount);

        // Another gapped one paying no more than the cheapest is refused; one that can run takes the cheapest's place.
        AssertRefused(pool, Tx.Transfer(Bob, 1).WithNonce(2).WithFee(2 * Fee).SignedBy(Carol), RefusalCode.MempoolFull,
            "the mempool holds its maximum of 2 transactions");
        var bobNow = Tx.Transfer(Alice, 1).SignedBy(Bob);
        AssertAdmitted(pool, bobNow);
        Assert.False(pool.Contains(bobGapped.Id));
        // The evicted one may be the sender's own last: its queue is made anew.
        var aliceNow = Tx.Transfer(Bob, 1).SignedBy(Alice);
        AssertAdmitted(pool, aliceNow);
        Assert.False(pool.Contains(aliceGapped.Id));

        Assert.Equal(0, pool.GappedCount);
        Assert.Equal([bobNow.Id, aliceNow.Id], pool.SelectReady(10).Select(t => t.Id));
        Assert.Equal(1, pool.NextNonce(Alice.Address));
    }

    [Fact]
    public void A_sender_s_pending_spending_counts_against_its_balance_until_its_block_commits()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 600 * Ait).SignedBy(Alice));
        AssertRefused(node.Pool, Tx.Transfer(Bob, 600 * Ait).WithNonce(1).SignedBy(Alice), RefusalCode.InsufficientBalance,
            $"balance {1_000 * Ait} is less than the {(600 * Ait) + Fee} this transaction needs on top of the {(600 * Ait) + Fee} its 1 pending transactions spend");
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 300 * Ait).WithNonce(1).SignedBy(Alice));

        // Committed, the first leaves the pending sum as it leaves the balance: not counted twice, even before the pool is cleaned.
        var built = c.Chain.Build(node.Pool.SelectReady(1), c.NextTime, c.Validator);
        c.Chain.Commit(built);
        var refused = node.Pool.Add(Tx.Transfer(Bob, 100 * Ait).WithNonce(2).SignedBy(Alice));
        Assert.Equal(RefusalCode.InsufficientBalance, refused!.Value.Code);
        Assert.Equal($"balance {(400 * Ait) - Fee} is less than the {(100 * Ait) + Fee} this transaction needs on top of the {(300 * Ait) + Fee} its 1 pending transactions spend",
            refused.Value.Detail);
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 99 * Ait).WithNonce(2).SignedBy(Alice));
    }

    [Fact]
    public void A_duplicate_is_refused_while_pending_and_after_commit()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var tx = Tx.Transfer(Bob, 1).SignedBy(Alice);
        AssertAdmitted(node.Pool, tx);

        AssertRefused(node.Pool, tx, RefusalCode.Duplicate, $"transaction {tx.Id} is already pending");

        node.ProduceFromPool(c);
        var (_, refusal) = node.Admission.Admit(tx.ToJsonBytes());
        Assert.Equal(RefusalCode.Duplicate, refusal!.Value.Code);
        Assert.Equal($"transaction {tx.Id} is already committed", refusal.Value.Detail);
        Assert.Equal(0, node.Pool.Count);
    }

    [Fact]
    public void A_second_transaction_with_a_pending_nonce_is_refused()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 1).SignedBy(Alice));

        AssertRefused(node.Pool, Tx.Transfer(Bob, 2).WithFee(2 * Fee).SignedBy(Alice), RefusalCode.NonceUsed,
            "another transaction with nonce 0 from this sender is already pending");
    }

    [Fact]
    public void A_future_nonce_waits_until_the_gap_is_filled()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var n2 = Tx.Transfer(Bob, 3).WithNonce(2).SignedBy(Alice);
        var n1 = Tx.Transfer(Bob, 2).WithNonce(1).SignedBy(Alice);
        AssertAdmitted(node.Pool, n2);
        AssertAdmitted(node.Pool, n1);

        Assert.Empty(node.Pool.SelectReady(10));
        Assert.Equal(0, node.Pool.NextNonce(Alice.Address));
        var empty = node.ProduceFromPool(c);
        Assert.Empty(empty.Block.Transactions);
        Assert.Equal(2, node.Pool.Count);

        var n0 = Tx.Transfer(Bob, 1).SignedBy(Alice);
        AssertAdmitted(node.Pool, n0);
        Assert.Equal(3, node.Pool.NextNonce(Alice.Address));
        var built = node.ProduceFromPool(c);

        Assert.Equal([n0.Id, n1.Id, n2.Id], built.Block.Transactions.Select(t => t.Id));
        Assert.Equal(3, c.Account(Alice).Nonce);
        Assert.Equal(0, node.Pool.Count);
    }

    [Fact]
    public void A_used_nonce_or_one_too_far_past_the_next_executable_one_is_refused_at_the_door()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        c.ProduceOk(Tx.Transfer(Bob, 1).SignedBy(Alice));

        AssertRefused(node.Pool, Tx.Transfer(Bob, 2).SignedBy(Alice), RefusalCode.NonceUsed,
            "nonce 0 is already used (the account's next nonce is 1)");
        AssertRefused(node.Pool, Tx.Transfer(Bob, 2).WithNonce(18).SignedBy(Alice), RefusalCode.NonceTooFar,
            "nonce 18 is more than 16 ahead of the sender's next executable nonce 1");
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 2).WithNonce(17).SignedBy(Alice));
        // The gap is measured from the end of the sender's executable run, so a queue may grow in order.
        for (var n = 1; n < 5; n++)
        {
            AssertAdmitted(node.Pool, Tx.Transfer(Bob, 3).WithNonce(n).SignedBy(Alice));
        }
        AssertAdmitted(node.Pool, Tx.Transfer(Bob, 2).WithNonce(21).SignedBy(Alice));
        AssertRefused(node.Pool, Tx.Transfer(Bob, 2).WithNonce(22).SignedBy(Alice), RefusalCode.NonceTooFar,
            "nonce 22 is more than 16 ahead of the sender's next executable nonce 5");
    }

    [Fact]
    public void What_cannot_pay_from_committed_funds_or_has_no_locked_escrow_is_refused_at_the_door()
    {
        using var c = Funded();
        var node = NodeParts.For(c);
        var empty = TestKeys.Named("empty");

        AssertRefused(node.Pool, Tx.Transfer(Alice, 1).SignedBy(empty), RefusalCode.InsufficientBalance,
            $"balance 0 is less than the {1 + Fee} this transaction needs");
        AssertRefused(node.Pool, Tx.Transfer(Bob, ulong.MaxValue).SignedBy(Alice), RefusalCode.InvalidAmount, "amount plus fee overflows 64 bits");
        AssertRefused(node.Pool, Tx.Settle("job-x", 1).SignedBy(empty), RefusalCode.EscrowState, $"no locked escrow for job 'job-x' payable to {empty.Address}");
        AssertRefused(node.Pool, Tx.Refund("job-x").SignedBy(Alice), RefusalCode.EscrowState,
            $"no locked escrow for job 'job-x' of which {Alice.Address} is the client or provider");
        c.ProduceOk(Tx.Lock("job-x", empty.Address, 1 * Ait, TestChain.GenesisTime + 60_000).SignedBy(Alice));
        AssertRefused(node.Pool, Tx.Lock("job-x", empty.Address, 1 * Ait, TestChain.GenesisTime + 60_000).SignedBy(Bob), RefusalCode.EscrowState,
            "an escrow for job 'job-x' already exists");
        // Only the escrow's parties get in: a stranger's settle or refund could never run, and would only fill the pool.
        AssertRefused(node.Pool, Tx.Settle("job-x", 1).SignedBy(Bob), RefusalCode.EscrowState, $"no locked escrow for job 'job-x' payable to {Bob.Address}");
        AssertRefused(node.Pool, Tx.Refund("job-x").SignedBy(Bob), RefusalCode.EscrowState,
            $"no locked escrow for job 'job-x' of which {Bob.Address} is the client or provider");
        // A provider with an empty account may still queue its settle: the fee comes from the payout.
        AssertAdmitted(node.Pool, Tx.Settle("job-x", 1 * Ait).SignedBy(empty));
    }

    [Theory]
    [InlineData("aitbc-other", Fee, 5UL, "wrong_chain", "wrong chain id 'aitbc-other' (this chain is 'aitbc-test')")]
    [InlineData(TestChain.DefaultChainId, Fee - 1, 5UL, "fee_too_low", "fee 999 is below the minimum 1000")]
    [InlineData(TestChain.DefaultChainId, Fee, 0UL, "invalid_amount", "transfer amount must be positive")]
    public void Stateless_refusals_name_their_error(string chainId, ulong fee, ulong amount, string code, string detail)
    {
        using var c = Funded();
        var node = NodeParts.For(c);

        var tx = Tx.Transfer(Bob, amount).WithFee(fee).OnChain(chainId).SignedBy(Alice);
        var (parsed, refusal) = node.Admission.Admit(tx.ToJsonBytes());

        Assert.Equal(tx.Id, parsed!.Id);
        Assert.Equal(code, refusal!.Value.Code.Value);
        Assert.Equal(detail, refusal.Value.Detail);
        Assert.Equal(0, node.Pool.Count);
    }

    [Fact]
    public void A_transaction_refused_in_a_block_leaves_the_pool_with_its_sender_s_later_nonces()
    {
        // Two locks of one job id pass the door (neither escrow exists yet); the one paying less is refused in the block.
        // A refusal there pays no fee: the sender's queue behind it goes too, so resubmitting the refused bytes brings back nothing.
        using var c = Funded();
        var node = NodeParts.For(c);
        var first = Tx.Lock("job-r", Bob.Address, 1 * Ait, TestChain.GenesisTime + 60_000).WithFee(2 * Fee).SignedBy(Alice);
        var second = Tx.Lock("job-r", Alice.Address, 1 * Ait, TestChain.GenesisTime + 60_000).SignedBy(Bob);
        var later = Enumerable.Range(1, 16).Select(n => Tx.Transfer(Alice, 1).WithNonce(n).SignedBy(Bob)).ToArray();
        AssertAdmitted(node.Pool, first);
        AssertAdmitted(node.Pool, second);
        foreach (var tx in later)
        {
            AssertAdmitted(node.Pool, tx);
        }

        var built = node.ProduceFromPool(c);

        Assert.Equal([first.Id], built.Block.Transactions.Select(t => t.Id));
        Assert.Equal(second.Id, Assert.Single(built.Rejected).Tx.Id);
        Assert.Equal("an escrow for job 'job-r' already exists", node.Tracker.RejectionOf(second.Id));
        Assert.All(later, t => Assert.Equal($"dropped unexecuted: an earlier transaction of its sender was refused in block {built.Block.Header.Height}", node.Tracker.RejectionOf(t.Id)));
        Assert.Equal(0, node.Pool.Count);
        Assert.Equal(0, node.Pool.GappedCount);
        Assert.Equal(0, node.Pool.NextNonce(Bob.Address));
        Assert.Equal(1_000 * Ait, c.Balance(Bob).Units);
    }
}
