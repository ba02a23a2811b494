using System.Collections.Concurrent;
using Aitbc.Core;

namespace Aitbc.Node.Chain;

/// <summary>
/// The committed state: every account and escrow, and the lattice that commits to them.
/// Written only by the consensus loop when a block commits; read by anyone. Each entry is an
/// immutable value, so a reader sees every account as of some committed block.
/// </summary>
internal sealed class WorldState
{
    private readonly ConcurrentDictionary<Address, AccountState> _accounts = new();
    private readonly ConcurrentDictionary<string, EscrowState> _escrows = new(StringComparer.Ordinal);

    public LatticeHash Lattice { get; private set; } = new();

    public int AccountCount => _accounts.Count;

    public AccountState Account(Address address) => _accounts.GetValueOrDefault(address);

    public EscrowState? Escrow(string jobId) => _escrows.GetValueOrDefault(jobId);

    public IEnumerable<KeyValuePair<Address, AccountState>> Accounts => _accounts;

    public IEnumerable<EscrowState> Escrows => _escrows.Values;

    internal void Load(Address address, AccountState account) => _accounts[address] = account;

    internal void Load(EscrowState escrow) => _escrows[escrow.JobId] = escrow;

    internal void SetLattice(LatticeHash lattice) => Lattice = lattice;

    /// <summary>Applies a block's changes after they are durable.</summary>
    internal void Apply(BlockState changes, LatticeHash lattice)
    {
        foreach (var (address, account) in changes.ChangedAccounts)
        {
            if (account.IsEmpty)
            {
                _accounts.TryRemove(address, out _);
            }
            else
            {
                _accounts[address] = account;
            }
        }
        foreach (var escrow in changes.ChangedEscrows)
        {
            _escrows[escrow.JobId] = escrow;
        }
        Lattice = lattice;
    }
}

/// <summary>The changes of one block being built or imported, over the committed state.</summary>
internal sealed class BlockState(WorldState committed)
{
    private readonly Dictionary<Address, AccountState> _accounts = [];
    private readonly Dictionary<string, EscrowState> _escrows = new(StringComparer.Ordinal);

    public WorldState Committed => committed;

    public IReadOnlyDictionary<Address, AccountState> ChangedAccounts => _accounts;

    public IEnumerable<EscrowState> ChangedEscrows => _escrows.Values;

    public AccountState Account(Address address) =>
        _accounts.TryGetValue(address, out var a) ? a : committed.Account(address);

    public EscrowState? Escrow(string jobId) =>
        _escrows.TryGetValue(jobId, out var e) ? e : committed.Escrow(jobId);

    public void Set(Address address, AccountState account) => _accounts[address] = account;

    public void Set(EscrowState escrow) => _escrows[escrow.JobId] = escrow;

    /// <summary>The lattice after this block: each touched element's old leaf out, its new leaf in.</summary>
    public LatticeHash NextLattice()
    {
        var added = new List<byte[]>(_accounts.Count + _escrows.Count);
        var removed = new List<byte[]>(_accounts.Count + _escrows.Count);
        foreach (var (address, account) in _accounts)
        {
            var before = committed.Account(address);
            if (before == account)
            {
                continue;
            }
            if (!before.IsEmpty)
            {
                removed.Add(before.LeafBytes(address));
            }
            if (!account.IsEmpty)
            {
                added.Add(account.LeafBytes(address));
            }
        }
        foreach (var escrow in _escrows.Values)
        {
            var before = committed.Escrow(escrow.JobId);
            if (before is not null)
            {
                removed.Add(before.LeafBytes());
            }
            added.Add(escrow.LeafBytes());
        }
        var lattice = committed.Lattice.Clone();
        lattice.Update(added, removed);
        return lattice;
    }
}
