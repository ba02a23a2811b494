using System.Text;
using Aitbc.Node.Chain;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Tests;

/// <summary>
/// A chain for tests: a genesis with funded keys, opened on a store (memory by default), with
/// blocks built and committed by the test at the times it chooses.
/// <c>TestChain.New().Fund(TestKeys.Alice, 1000 * TestChain.Ait).Open()</c>.
/// </summary>
internal sealed class TestChain : IDisposable
{
    public const string DefaultChainId = "aitbc-test";
    public const ulong Ait = Amount.UnitsPerAit;
    public const long GenesisTime = 1_750_000_000_000;
    public const ulong Fee = GenesisBuilder.Fee;
    public static readonly Amount MinFee = GenesisBuilder.MinFee;

    private TestChain(Genesis genesis, IKeyValueStore store, Blockchain chain)
    {
        Genesis = genesis;
        Store = store;
        Chain = chain;
    }

    public Genesis Genesis { get; }

    public IKeyValueStore Store { get; }

    public Blockchain Chain { get; }

    public Ed25519Key Validator { get; } = TestKeys.Validator;

    /// <summary>The time of the next block unless a test chooses one: a second after the head.</summary>
    public long NextTime => Chain.Head.Header.Time + 1_000;

    /// <summary>A genesis at <see cref="GenesisTime"/> on <see cref="DefaultChainId"/>, with the default parameters but the test fee.</summary>
    public static GenesisBuilder New() => GenesisBuilder.New(DefaultChainId).At(GenesisTime);

    public static TestChain Open(Genesis genesis, IKeyValueStore store) => new(genesis, store, Blockchain.Open(store, genesis));

    /// <summary>Opens the same store again, as a node does after a restart.</summary>
    public TestChain Reopen() => Open(Genesis, Store);

    public AccountState Account(Ed25519Key key) => Chain.State.Account(key.Address);

    public Amount Balance(Ed25519Key key) => Chain.State.Account(key.Address).Balance;

    public EscrowState? Escrow(string jobId) => Chain.State.Escrow(jobId);

    public BuiltBlock Build(params Transaction[] txs) => BuildAt(NextTime, txs);

    public BuiltBlock BuildAt(long time, params Transaction[] txs) => Chain.Build(txs, time, Validator);

    /// <summary>Builds a block of <paramref name="txs"/> and commits it; refused ones are in the result's Rejected.</summary>
    public BuiltBlock Produce(params Transaction[] txs) => ProduceAt(NextTime, txs);

    public BuiltBlock ProduceAt(long time, params Transaction[] txs)
    {
        var built = BuildAt(time, txs);
        Chain.Commit(built);
        return built;
    }

    /// <summary>Produces a block and asserts every transaction went in.</summary>
    public BuiltBlock ProduceOk(params Transaction[] txs) => ProduceOkAt(NextTime, txs);

    public BuiltBlock ProduceOkAt(long time, params Transaction[] txs)
    {
        var built = ProduceAt(time, txs);
        Assert.Empty(built.Rejected.Select(r => $"{r.Tx.Type} nonce {r.Tx.Nonce}: {r.Reason}"));
        Assert.Equal(txs.Length, built.Block.Transactions.Count);
        return built;
    }

    /// <summary>Asserts that <paramref name="tx"/> alone in a block is refused with exactly <paramref name="reason"/> and changes nothing.</summary>
    public void AssertRefused(Transaction tx, string reason, long? time = null) => AssertRefusedAfter([], tx, reason, time);

    /// <summary>
    /// Asserts that <paramref name="tx"/>, placed in a block after <paramref name="preceding"/> (which must go in), is refused
    /// with exactly <paramref name="reason"/> and leaves no trace: the block's changes and state root are those of the
    /// block without it, and (when it is alone) the committed state after the block is the state before it.
    /// </summary>
    public void AssertRefusedAfter(Transaction[] preceding, Transaction tx, string reason, long? time = null)
    {
        var at = time ?? NextTime;
        var before = Snapshot();
        var without = BuildAt(at, preceding);
        Assert.Empty(without.Rejected);
        var built = BuildAt(at, [.. preceding, tx]);
        var (refused, why) = Assert.Single(built.Rejected);
        Assert.Equal(tx.Id, refused.Id);
        Assert.Equal(reason, why);
        Assert.Equal(preceding.Select(t => t.Id), built.Block.Transactions.Select(t => t.Id));
        Assert.Equal(Describe(without.Changes), Describe(built.Changes));
        Assert.Equal(without.Block.Header.StateRoot, built.Block.Header.StateRoot);
        Chain.Commit(built);
        if (preceding.Length == 0)
        {
            Assert.Equal(before, Snapshot());
        }
    }

    private static string Describe(BlockState changes) =>
        string.Join('\n', changes.ChangedAccounts.OrderBy(a => a.Key.ToString(), StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}")
            .Concat(changes.ChangedEscrows.OrderBy(e => e.JobId, StringComparer.Ordinal).Select(e => e.ToString())));

    /// <summary>Everything the committed state holds, in a form that compares by value.</summary>
    public StateSnapshot Snapshot()
    {
        var accounts = new StringBuilder();
        foreach (var (address, account) in Chain.State.Accounts.OrderBy(a => a.Key.ToString(), StringComparer.Ordinal))
        {
            accounts.Append(address.ToString()).Append('=').Append(account.Balance.ToString()).Append('/').Append(account.Nonce).Append('\n');
        }
        var escrows = string.Join('\n', Chain.State.Escrows.OrderBy(e => e.JobId, StringComparer.Ordinal).Select(e => e.ToString()));
        return new StateSnapshot(Chain.Head.Header.StateRoot, accounts.ToString(), escrows);
    }

    public void Dispose() => Chain.Dispose();
}

internal sealed record StateSnapshot(Hash256 StateRoot, string Accounts, string Escrows);

internal static class TestChainOpening
{
    /// <summary>A test chain on this genesis, on <paramref name="store"/> (memory by default).</summary>
    public static TestChain Open(this GenesisBuilder genesis, IKeyValueStore? store = null) => TestChain.Open(genesis.Build(), store ?? new MemoryStore());
}
