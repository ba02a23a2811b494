using System.Text;
using Aitbc.Node.Chain;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Tests.Chain;

/// <summary>Importing blocks from another node (verified in full, refused when anything is off) and reopening a chain.</summary>
public sealed class BlockchainTests
{
    private const ulong Ait = TestChain.Ait;
    private static readonly Ed25519Key Alice = TestKeys.Alice;
    private static readonly Ed25519Key Bob = TestKeys.Bob;

    private static Genesis SharedGenesis() => TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, 10 * Ait).Build();

    /// <summary>A producer and a follower on one genesis; the producer has committed block 1 with a transfer and a lock.</summary>
    private static (TestChain Producer, TestChain Follower, Block Block1) TwoNodes()
    {
        var genesis = SharedGenesis();
        var producer = TestChain.Open(genesis, new MemoryStore());
        var follower = TestChain.Open(genesis, new MemoryStore());
        var built = producer.ProduceOk(
            Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice),
            Tx.Lock("job-1", Bob.Address, 20 * Ait, TestChain.GenesisTime + 60_000).WithNonce(1).SignedBy(Alice));
        return (producer, follower, built.Block);
    }

    private static Block Resigned(Block block, BlockHeader header, Ed25519Key? signer = null) =>
        Block.Create(header, signer ?? TestKeys.Validator, block.Transactions);

    private static void AssertImportRefused(TestChain follower, Block block, string reason)
    {
        var head = follower.Chain.Head.Hash;
        var before = follower.Snapshot();

        Assert.Equal(reason, follower.Chain.Import(block));

        Assert.Equal(head, follower.Chain.Head.Hash);
        Assert.Equal(before, follower.Snapshot());
    }

    [Fact]
    public void Both_instances_start_from_the_same_block_0()
    {
        var genesis = SharedGenesis();
        using var a = TestChain.Open(genesis, new MemoryStore());
        using var b = TestChain.Open(genesis, new MemoryStore());

        Assert.Equal(0, a.Chain.Head.Height);
        Assert.Equal(a.Chain.Head.Hash, b.Chain.Head.Hash);
        Assert.Equal(genesis.Hash(), a.Chain.Head.Header.PrevHash);
        Assert.Equal(new Amount(1_000 * Ait), a.Balance(Alice));
    }

    [Fact]
    public void Import_of_a_block_built_by_another_instance_on_the_same_genesis_succeeds()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;

        Assert.Null(f.Chain.Import(block1));

        Assert.Equal(block1.Hash, f.Chain.Head.Hash);
        Assert.Equal(p.Snapshot(), f.Snapshot());
        Assert.Equal(EscrowStatus.Locked, f.Escrow("job-1")!.Status);
    }

    [Fact]
    public void Import_of_blocks_read_back_from_the_producer_s_storage_as_json_keeps_the_chains_equal()
    {
        var (producer, follower, _) = TwoNodes();
        using var p = producer;
        using var f = follower;
        p.ProduceOk(Tx.Settle("job-1", 5 * Ait).SignedBy(Bob));
        p.ProduceOk();

        for (var h = 1; h <= p.Chain.Head.Height; h++)
        {
            Assert.True(Block.TryParse(p.Chain.Store.ReadBlockJson(h), out var block, out var error), error);
            Assert.Null(f.Chain.Import(block));
        }

        Assert.Equal(p.Chain.Head.Hash, f.Chain.Head.Hash);
        Assert.Equal(p.Snapshot(), f.Snapshot());
    }

    [Fact]
    public void Import_refuses_a_tampered_state_root_even_when_the_proposer_signs_it()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;
        var fake = Hash256.Compute(Encoding.UTF8.GetBytes("not the state"));

        AssertImportRefused(f, Resigned(block1, block1.Header with { StateRoot = fake }),
            $"state root mismatch: block says {fake}, re-execution gives {block1.Header.StateRoot}");
    }

    [Fact]
    public void Import_refuses_a_tampered_header_that_is_not_signed_again()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;

        AssertImportRefused(f, block1 with { Header = block1.Header with { StateRoot = Hash256.Compute([1]) } },
            "the proposer's signature is not valid");
    }

    [Fact]
    public void Import_refuses_a_bad_proposer_signature()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;
        var flipped = (byte[])block1.Signature.Clone();
        flipped[10] ^= 0x01;

        AssertImportRefused(f, block1 with { Signature = flipped }, "the proposer's signature is not valid");
        AssertImportRefused(f, block1 with { Signature = Alice.Sign(block1.Header.SigningBytes()) }, "the proposer's signature is not valid");
        Assert.Null(f.Chain.Import(block1));
    }

    [Fact]
    public void Import_refuses_a_block_signed_by_someone_who_is_not_a_validator()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;

        AssertImportRefused(f, Resigned(block1, block1.Header with { Proposer = Alice.Address }, Alice),
            $"proposer {Alice.Address} is not a validator");
    }

    [Fact]
    public void Import_refuses_a_transaction_with_a_tampered_signature()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;
        var bad = Tx.WithBadSignature(block1.Transactions[1]);

        // The header (tx root, signature) is untouched: the signature is not part of a transaction's id.
        AssertImportRefused(f, block1 with { Transactions = [block1.Transactions[0], bad] },
            $"transaction {bad.Id} has an invalid signature");
    }

    [Fact]
    public void Import_refuses_a_wrong_prev_hash()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;
        var other = Hash256.Compute(Encoding.UTF8.GetBytes("another chain"));

        AssertImportRefused(f, Resigned(block1, block1.Header with { PrevHash = other }),
            $"block 1 does not build on the head {f.Chain.Head.Hash}");
    }

    [Fact]
    public void Import_refuses_a_block_that_does_not_follow_the_head()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;
        var block2 = p.ProduceOk().Block;

        AssertImportRefused(f, block2, "block height 2 does not follow the head 0");
        Assert.Null(f.Chain.Import(block1));
        AssertImportRefused(f, block1, "block height 1 does not follow the head 1");
    }

    [Fact]
    public void Import_refuses_a_block_whose_time_does_not_move_forward()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;

        AssertImportRefused(f, Resigned(block1, block1.Header with { Time = TestChain.GenesisTime }),
            $"block time {TestChain.GenesisTime} does not move forward from {TestChain.GenesisTime}");
    }

    [Fact]
    public void Import_refuses_a_block_for_another_chain()
    {
        var (producer, follower, block1) = TwoNodes();
        using var p = producer;
        using var f = follower;

        AssertImportRefused(f, Resigned(block1, block1.Header with { ChainId = "aitbc-other" }), "block is for chain 'aitbc-other'");
    }

    [Fact]
    public void Import_refuses_a_signed_block_with_a_transaction_the_rules_refuse()
    {
        using var f = TestChain.Open(SharedGenesis(), new MemoryStore());
        var overspend = Tx.Transfer(Alice, 10 * Ait).SignedBy(Bob);
        var head = f.Chain.Head.Header;
        var header = new BlockHeader(head.ChainId, 1, head.Hash, head.Time + 1_000, TestKeys.Validator.Address,
            Merkle.Root([overspend.Id]), head.StateRoot, 1);

        AssertImportRefused(f, Block.Create(header, TestKeys.Validator, [overspend]),
            $"transaction {overspend.Id} is refused: insufficient balance: {10 * Ait} available, {(10 * Ait) + TestChain.Fee} needed");
    }

    [Fact]
    public void A_reopened_chain_resumes_at_its_head_with_the_same_state()
    {
        var store = new MemoryStore();
        using var c = TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, 10 * Ait).Open(store);
        c.ProduceOk(Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice));
        c.ProduceOk(Tx.Lock("job-1", Bob.Address, 20 * Ait, TestChain.GenesisTime + 60_000).WithNonce(1).SignedBy(Alice));
        c.ProduceOk(Tx.Settle("job-1", 2 * Ait).SignedBy(Bob));

        using var reopened = c.Reopen();

        Assert.Equal(3, reopened.Chain.Head.Height);
        Assert.Equal(c.Chain.Head.Hash, reopened.Chain.Head.Hash);
        Assert.Equal(c.Snapshot(), reopened.Snapshot());
        // The incremental commitment was rebuilt exactly: the next block's state root agrees with the original instance's.
        var next = Tx.Transfer(TestKeys.Carol.Address, 1 * Ait).WithNonce(1).SignedBy(Bob);
        var time = c.NextTime;
        Assert.Equal(c.BuildAt(time, next).Block.Hash, reopened.BuildAt(time, next).Block.Hash);
    }

    [Fact]
    public void Block_time_never_goes_backwards_even_when_the_clock_does()
    {
        using var c = TestChain.New().Fund(Alice, 1_000 * Ait).Open();
        var first = c.ProduceAt(TestChain.GenesisTime + 5_000).Block;

        var second = c.ProduceAt(TestChain.GenesisTime + 1_000).Block;

        Assert.Equal(first.Header.Time + 1, second.Header.Time);
    }
}
