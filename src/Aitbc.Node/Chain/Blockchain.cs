using Aitbc.Core;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Chain;

/// <summary>A block that is committed and durable, with what it changed, for those who follow the chain.</summary>
internal sealed record CommittedBlock(Block Block, byte[] Json, IReadOnlyList<EscrowState> Escrows, IReadOnlyList<IReadOnlyList<Address>> Parties);

/// <summary>A block built from candidates: what went in, and what was refused with its reason.</summary>
internal sealed record BuiltBlock(Block Block, BlockState Changes, LatticeHash Lattice, IReadOnlyList<(Transaction Tx, string Reason)> Rejected);

/// <summary>
/// The chain: the committed head and state, building a block from candidates, importing a block
/// from elsewhere (re-executed and checked), and committing either durably before anyone hears of it.
/// Mutated only by the consensus loop.
/// </summary>
internal sealed class Blockchain : IDisposable
{
    private readonly ChainStore _store;
    private volatile Block _head;

    private Blockchain(ChainStore store, Genesis genesis, Hash256 genesisHash, WorldState state, Block head)
    {
        _store = store;
        Genesis = genesis;
        GenesisHash = genesisHash;
        State = state;
        _head = head;
    }

    public Genesis Genesis { get; }
    public Hash256 GenesisHash { get; }
    public WorldState State { get; }
    public Block Head => _head;
    /// <summary>The storage underneath; those who read the chain use the query methods (<see cref="FindTx"/>, <see cref="ReadBlockJson"/>, <see cref="History"/>).</summary>
    public ChainStore Store => _store;
    public string ChainId => Genesis.ChainId;
    public ChainParameters Params => Genesis.Params;

    public event Action<CommittedBlock>? Committed;

    /// <summary>Opens the chain in <paramref name="kv"/>, writing block 0 from the genesis on an empty store.</summary>
    public static Blockchain Open(IKeyValueStore kv, Genesis genesis)
    {
        if (!LatticeHash.IsSupported)
        {
            throw new PlatformNotSupportedException("SHAKE256 is not available from this machine's OpenSSL; the state commitment needs it.");
        }
        var store = new ChainStore(kv);
        var genesisHash = genesis.Hash();
        var state = new WorldState();
        var tip = store.ReadTip();
        if (tip is null)
        {
            var changes = new BlockState(state);
            foreach (var a in genesis.Allocations)
            {
                changes.Set(a.Address, new AccountState(a.Amount, 0));
            }
            var lattice = changes.NextLattice();
            var header = new BlockHeader(genesis.ChainId, 0, genesisHash, genesis.GenesisTime, genesis.Validators[0].Address,
                Merkle.Root([]), lattice.Root(), 0);
            var block0 = new Block(header, new byte[Ed25519Key.SignatureSize], []);
            store.Commit(block0, block0.ToJsonBytes(), [], changes, lattice, genesisHash, []);
            state.Apply(changes, lattice);
            return new Blockchain(store, genesis, genesisHash, state, block0);
        }
        if (tip.GenesisHash != genesisHash)
        {
            throw new InvalidOperationException(
                $"The data directory holds chain {tip.GenesisHash} but the genesis file given is {genesisHash}: use the genesis it was created with, or another data directory.");
        }
        var head = store.ReadBlock(tip.Height);
        foreach (var (address, account) in store.ReadAccounts())
        {
            state.Load(address, account);
        }
        foreach (var escrow in store.ReadEscrows())
        {
            state.Load(escrow);
        }
        // Recompute the commitment from what was read back: a stored state that does not match its block is corrupt.
        var recomputed = new LatticeHash();
        foreach (var (address, account) in state.Accounts)
        {
            recomputed.Add(account.LeafBytes(address));
        }
        foreach (var escrow in state.Escrows)
        {
            recomputed.Add(escrow.LeafBytes());
        }
        if (recomputed.Root() != head.Header.StateRoot || LatticeHash.FromBytes(tip.Lattice).Root() != head.Header.StateRoot)
        {
            throw new StorageCorruptException($"the stored state does not match the state root of block {head.Height}");
        }
        state.SetLattice(recomputed);
        return new Blockchain(store, genesis, genesisHash, state, head);
    }

    /// <summary>A committed transaction's location and JSON; null when no committed block has it.</summary>
    public StoredTx? FindTx(Hash256 id) => _store.FindTx(id);

    /// <summary>The committed block at <paramref name="height"/> as stored; null above the head.</summary>
    public byte[]? ReadBlockJson(long height) => _store.ReadBlockJson(height);

    /// <summary>The height of the committed block with this hash; null when no committed block has it.</summary>
    public long? HeightOf(Hash256 hash) => _store.HeightOf(hash);

    /// <summary>The newest committed transactions that touched <paramref name="address"/>, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<(TxLocation Location, Hash256 Id)> History(Address address, int limit) => _store.History(address, limit);

    public bool IsValidator(Address address) => Genesis.Validators.Any(v => v.Address == address);

    /// <summary>More candidates for a block being built: at most <c>max</c>, each sender's from <c>nextNonce</c> on, none from <c>excluded</c>.</summary>
    public delegate IReadOnlyList<Transaction> Refill(int max, Func<Address, long> nextNonce, IReadOnlySet<Address> excluded);

    /// <summary>How many times one block asks <see cref="Refill"/> for candidates in place of refused ones.</summary>
    public const int MaxRefills = 4;

    /// <summary>
    /// Executes candidates in order on top of the head; those refused are left out with their reason, and a refused
    /// transaction's sender has none of its later ones in the block. When <paramref name="refill"/> is given and
    /// <paramref name="candidates"/> filled the block's limit, what was refused or left out is made up from
    /// <paramref name="refill"/> (at most <see cref="MaxRefills"/> times), so refusals, which pay no fee, cannot take a
    /// block's room from transactions that can run. A block without refusals never asks.
    /// </summary>
    public BuiltBlock Build(IReadOnlyList<Transaction> candidates, long now, Ed25519Key proposer, Refill? refill = null)
    {
        var head = _head.Header;
        var height = head.Height + 1;
        var time = Math.Max(now, head.Time + 1);
        var max = Params.MaxBlockTxs;
        var changes = new BlockState(State);
        var included = new List<Transaction>(candidates.Count);
        var rejected = new List<(Transaction, string)>();
        HashSet<Address>? stalled = null;
        var batch = candidates;
        var asked = max;
        for (var refills = 0; ; refills++)
        {
            var lost = false;
            foreach (var tx in batch)
            {
                if (included.Count >= max)
                {
                    break;
                }
                // After one of a sender's transactions is refused, its later nonces cannot run in this block.
                if (stalled?.Contains(tx.From) == true)
                {
                    lost = true;
                    continue;
                }
                if (Executor.Apply(changes, tx, height, time, proposer.Address, ChainId, Params) is not { } refusal)
                {
                    included.Add(tx);
                }
                else
                {
                    rejected.Add((tx, refusal.Detail));
                    (stalled ??= []).Add(tx.From);
                    lost = true;
                }
            }
            // A batch short of what was asked for took every ready transaction: there is nothing more to take.
            if (!lost || refill is null || refills == MaxRefills || included.Count >= max || batch.Count < asked)
            {
                break;
            }
            asked = max - included.Count;
            batch = refill(asked, a => changes.Account(a).Nonce, stalled!);
            if (batch.Count == 0)
            {
                break;
            }
        }
        var lattice = changes.NextLattice();
        var header = new BlockHeader(ChainId, height, head.Hash, time, proposer.Address,
            Merkle.Root(included.Select(t => t.Id).ToArray()), lattice.Root(), included.Count);
        return new BuiltBlock(Block.Create(header, proposer, included), changes, lattice, rejected);
    }

    /// <summary>Checks a block from elsewhere in full (signatures, every transaction re-executed, roots) and commits it.</summary>
    public string? Import(Block block)
    {
        var head = _head.Header;
        var h = block.Header;
        if (h.ChainId != ChainId)
        {
            return $"block is for chain '{h.ChainId}'";
        }
        if (h.Height != head.Height + 1)
        {
            return $"block height {h.Height} does not follow the head {head.Height}";
        }
        if (h.PrevHash != head.Hash)
        {
            return $"block {h.Height} does not build on the head {head.Hash}";
        }
        if (h.Time <= head.Time)
        {
            return $"block time {h.Time} does not move forward from {head.Time}";
        }
        if (!IsValidator(h.Proposer))
        {
            return $"proposer {h.Proposer} is not a validator";
        }
        if (!block.VerifySignature())
        {
            return "the proposer's signature is not valid";
        }
        var txs = block.Transactions;
        var bad = -1;
        Parallel.For(0, txs.Count, (i, loop) =>
        {
            if (!txs[i].VerifySignature())
            {
                bad = i;
                loop.Stop();
            }
        });
        if (bad >= 0)
        {
            return $"transaction {txs[bad].Id} has an invalid signature";
        }
        var changes = new BlockState(State);
        foreach (var tx in txs)
        {
            if (Executor.Apply(changes, tx, h.Height, h.Time, h.Proposer, ChainId, Params) is { } refusal)
            {
                return $"transaction {tx.Id} is refused: {refusal.Detail}";
            }
        }
        var lattice = changes.NextLattice();
        if (lattice.Root() != h.StateRoot)
        {
            return $"state root mismatch: block says {h.StateRoot}, re-execution gives {lattice.Root()}";
        }
        Commit(new BuiltBlock(block, changes, lattice, []));
        return null;
    }

    /// <summary>Makes a block durable, then current, then announces it.</summary>
    public CommittedBlock Commit(BuiltBlock built)
    {
        var block = built.Block;
        var parties = new List<IReadOnlyList<Address>>(block.Transactions.Count);
        var history = new List<(Address, int)>(block.Transactions.Count * 2);
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var p = Parties(block.Transactions[i], built.Changes);
            parties.Add(p);
            foreach (var a in p)
            {
                history.Add((a, i));
            }
        }
        var txJson = block.Transactions.Select(t => t.ToJsonBytes()).ToArray();
        var json = block.ToJsonBytes(txJson);
        _store.Commit(block, json, txJson, built.Changes, built.Lattice, GenesisHash, history);
        State.Apply(built.Changes, built.Lattice);
        _head = block;
        var committed = new CommittedBlock(block, json, [.. built.Changes.ChangedEscrows], parties);
        Committed?.Invoke(committed);
        return committed;
    }

    /// <summary>Every address a transaction concerns: its signer and its counterparties.</summary>
    private static IReadOnlyList<Address> Parties(Transaction tx, BlockState state)
    {
        Address? other = tx.Body switch
        {
            TransferBody t => t.To,
            EscrowLockBody l => l.Provider,
            EscrowSettleBody s => state.Escrow(s.JobId)?.Client,
            EscrowRefundBody r => state.Escrow(r.JobId) is { } e ? (e.Client == tx.From ? e.Provider : e.Client) : null,
            _ => null,
        };
        return other is { } o && o != tx.From ? [tx.From, o] : [tx.From];
    }

    public void Dispose() => _store.Dispose();
}
