using Aitbc.Node.Chain;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Tests.Storage;

/// <summary>The chain on RocksDB: durable across reopening, and a refusal to run on corrupt or foreign data.</summary>
public sealed class ChainStorageTests
{
    private const ulong Ait = TestChain.Ait;
    private static readonly Ed25519Key Alice = TestKeys.Alice;
    private static readonly Ed25519Key Bob = TestKeys.Bob;

    private static GenesisBuilder Builder() => TestChain.New().Fund(Alice, 1_000 * Ait).Fund(Bob, 10 * Ait);

    private static byte[] AccountKey(Ed25519Key key) => [(byte)'A', .. key.Address.PublicKey];

    [Fact]
    public void A_block_committed_to_rocksdb_survives_reopening()
    {
        using var dir = new TempDir();
        var genesis = Builder().Build();
        Hash256 head;
        StateSnapshot state;
        Transaction transfer;
        using (var c = TestChain.Open(genesis, new RocksDbStore(dir.Path)))
        {
            transfer = Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice);
            c.ProduceOk(transfer);
            c.ProduceOk(Tx.Lock("job-1", Bob.Address, 20 * Ait, TestChain.GenesisTime + 60_000).WithNonce(1).SignedBy(Alice));
            head = c.Chain.Head.Hash;
            state = c.Snapshot();
        }

        using var reopened = TestChain.Open(genesis, new RocksDbStore(dir.Path));

        Assert.Equal(2, reopened.Chain.Head.Height);
        Assert.Equal(head, reopened.Chain.Head.Hash);
        Assert.Equal(state, reopened.Snapshot());
        Assert.Equal(new TxLocation(1, 0), reopened.Chain.Store.FindTx(transfer.Id)!.Location);
        Assert.Equal(transfer.ToJsonBytes(), reopened.Chain.Store.FindTx(transfer.Id)!.Json);
        var history = reopened.Chain.Store.History(Bob.Address, 10);
        Assert.Equal([2L, 1L], history.Select(h => h.Location.Height));
        reopened.ProduceOk(Tx.Settle("job-1", 1 * Ait).SignedBy(Bob));
        Assert.Equal(EscrowStatus.Settled, reopened.Escrow("job-1")!.Status);
    }

    [Fact]
    public void A_garbage_account_record_stops_open_with_a_clear_message()
    {
        using var dir = new TempDir();
        var genesis = Builder().Build();
        using (var c = TestChain.Open(genesis, new RocksDbStore(dir.Path)))
        {
            c.ProduceOk(Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice));
            c.Chain.Store.Raw.Write([new(AccountKey(Alice), [0xde, 0xad, 0xbe, 0xef, 0x00])], sync: true);
        }

        using var store = new RocksDbStore(dir.Path);
        var e = Assert.Throws<StorageCorruptException>(() => Blockchain.Open(store, genesis));

        Assert.Equal("Corrupt storage: an account record is not 16 bytes.", e.Message);
    }

    [Fact]
    public void A_well_formed_but_altered_account_record_does_not_match_the_state_root()
    {
        using var dir = new TempDir();
        var genesis = Builder().Build();
        using (var c = TestChain.Open(genesis, new RocksDbStore(dir.Path)))
        {
            c.ProduceOk(Tx.Transfer(Bob, 5 * Ait).SignedBy(Alice));
            c.Chain.Store.Raw.Write([new(AccountKey(Bob), new AccountState(new Amount(999_999 * Ait), 0).Encode())], sync: true);
        }

        using var store = new RocksDbStore(dir.Path);
        var e = Assert.Throws<StorageCorruptException>(() => Blockchain.Open(store, genesis));

        Assert.Equal("Corrupt storage: the stored state does not match the state root of block 1.", e.Message);
    }

    [Fact]
    public void Other_corruptions_are_named_too()
    {
        var genesis = Builder().Build();
        var store = new MemoryStore();
        using (var c = TestChain.Open(genesis, store))
        {
            c.ProduceOk(Tx.Lock("job-1", Bob.Address, 20 * Ait, TestChain.GenesisTime + 60_000).SignedBy(Alice));
        }
        var escrowKey = "Ejob-1"u8.ToArray();
        var escrow = store.Get(escrowKey)!;
        var tip = store.Get("Mtip"u8)!;
        var block1 = store.Get([(byte)'B', 0, 0, 0, 0, 0, 0, 0, 1])!;

        store.Write([new(escrowKey, "{\"jobId\":"u8.ToArray())], sync: true);
        Assert.StartsWith("Corrupt storage: an escrow record cannot be read",
            Assert.Throws<StorageCorruptException>(() => Blockchain.Open(store, genesis)).Message);
        store.Write([new(escrowKey, escrow), new("Mtip"u8.ToArray(), tip[..100])], sync: true);
        Assert.Equal("Corrupt storage: the head record has the wrong size.",
            Assert.Throws<StorageCorruptException>(() => Blockchain.Open(store, genesis)).Message);
        store.Write([new("Mtip"u8.ToArray(), tip), new([(byte)'B', 0, 0, 0, 0, 0, 0, 0, 1], null)], sync: true);
        Assert.Equal("Corrupt storage: block 1 is missing.",
            Assert.Throws<StorageCorruptException>(() => Blockchain.Open(store, genesis)).Message);

        store.Write([new([(byte)'B', 0, 0, 0, 0, 0, 0, 0, 1], block1)], sync: true);
        using var repaired = TestChain.Open(genesis, store);
        Assert.Equal(1, repaired.Chain.Head.Height);
    }

    [Fact]
    public void Opening_a_data_dir_with_a_different_genesis_is_refused()
    {
        using var dir = new TempDir();
        var genesis = Builder().Build();
        using (TestChain.Open(genesis, new RocksDbStore(dir.Path)))
        {
        }
        var other = Builder().Fund(TestKeys.Carol, 1).Build();

        using var store = new RocksDbStore(dir.Path);
        var e = Assert.Throws<InvalidOperationException>(() => Blockchain.Open(store, other));

        Assert.Equal($"The data directory holds chain {genesis.Hash()} but the genesis file given is {other.Hash()}: " +
            "use the genesis it was created with, or another data directory.", e.Message);
    }

    [Fact]
    public async Task A_node_refused_for_a_different_genesis_releases_its_data_dir()
    {
        using var dir = new TempDir();
        var genesis = Builder().Build();
        var options = new NodeOptions { DataDir = dir.Path, RpcPort = 0 };
        await using (await NodeServer.StartAsync(options, genesis, TestKeys.Validator, null, logging: _ => { }))
        {
        }
        var other = Builder().WithChainId("aitbc-other").Build();

        await Assert.ThrowsAsync<InvalidOperationException>(() => NodeServer.StartAsync(options, other, TestKeys.Validator, null, logging: _ => { }));

        await using var again = await NodeServer.StartAsync(options, genesis, TestKeys.Validator, null, logging: _ => { });
        Assert.Equal(genesis.ChainId, again.ChainId);
        Assert.Null(again.Fault);
    }
}
