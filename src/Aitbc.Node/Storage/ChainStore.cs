using System.Buffers.Binary;
using Aitbc.Core;
using Aitbc.Node.Chain;

namespace Aitbc.Node.Storage;

/// <summary>Where a committed transaction sits.</summary>
public readonly record struct TxLocation(long Height, int Index);

/// <summary>A committed transaction: where it sits and its wire JSON.</summary>
public sealed record StoredTx(TxLocation Location, byte[] Json);

/// <summary>
/// The chain's schema over a key-value store. Keys: <c>B</c>+height → block JSON, <c>H</c>+hash →
/// height, <c>T</c>+tx id → location and tx JSON, <c>A</c>+public key → account, <c>E</c>+job id → escrow,
/// <c>X</c>+public key+height+index → tx id (account history), <c>Mtip</c> → head height, lattice
/// and genesis hash. One block is one atomic, synced batch.
/// </summary>
internal sealed class ChainStore(IKeyValueStore kv) : IDisposable
{
    private static readonly byte[] TipKey = "Mtip"u8.ToArray();

    public IKeyValueStore Raw => kv;

    public sealed record Tip(long Height, byte[] Lattice, Hash256 GenesisHash);

    public Tip? ReadTip()
    {
        var v = kv.Get(TipKey);
        if (v is null)
        {
            return null;
        }
        if (v.Length != 8 + LatticeHash.Size + 32)
        {
            throw new StorageCorruptException("the head record has the wrong size");
        }
        return new Tip(BinaryPrimitives.ReadInt64BigEndian(v), v[8..(8 + LatticeHash.Size)], new Hash256(v.AsSpan(8 + LatticeHash.Size)));
    }

    public byte[]? ReadBlockJson(long height) => kv.Get(Key('B', Be(height)));

    public Block ReadBlock(long height)
    {
        var json = ReadBlockJson(height) ?? throw new StorageCorruptException($"block {height} is missing");
        if (!Block.TryParse(json, out var block, out var error))
        {
            throw new StorageCorruptException($"block {height} cannot be read: {error}");
        }
        if (block.Height != height)
        {
            throw new StorageCorruptException($"block stored at height {height} says it is {block.Height}");
        }
        return block;
    }

    public long? HeightOf(Hash256 hash)
    {
        var v = kv.Get(Key('H', hash.ToArray()));
        return v is null ? null : BinaryPrimitives.ReadInt64BigEndian(v);
    }

    public StoredTx? FindTx(Hash256 id)
    {
        var v = kv.Get(Key('T', id.ToArray()));
        if (v is null)
        {
            return null;
        }
        if (v.Length < 12)
        {
            throw new StorageCorruptException($"the index entry of transaction {id} is too short");
        }
        return new StoredTx(new TxLocation(BinaryPrimitives.ReadInt64BigEndian(v), BinaryPrimitives.ReadInt32BigEndian(v.AsSpan(8))), v[12..]);
    }

    public IEnumerable<(Address Address, AccountState Account)> ReadAccounts()
    {
        foreach (var (key, value) in kv.Scan("A"u8.ToArray()))
        {
            if (key.Length != 33)
            {
                throw new StorageCorruptException("an account key has the wrong size");
            }
            yield return (new Address(key.AsSpan(1)), AccountState.Decode(value));
        }
    }

    public IEnumerable<EscrowState> ReadEscrows()
    {
        foreach (var (_, value) in kv.Scan("E"u8.ToArray()))
        {
            yield return EscrowState.Decode(value);
        }
    }

    /// <summary>The newest transactions that touched an address, newest first.</summary>
    public IReadOnlyList<(TxLocation Location, Hash256 Id)> History(Address address, int limit)
    {
        var result = new List<(TxLocation, Hash256)>(limit);
        foreach (var (key, value) in kv.Scan(Key('X', address.PublicKey.ToArray()), reverse: true))
        {
            var at = key.AsSpan(33);
            result.Add((new TxLocation(BinaryPrimitives.ReadInt64BigEndian(at), BinaryPrimitives.ReadInt32BigEndian(at[8..])), new Hash256(value)));
            if (result.Count >= limit)
            {
                break;
            }
        }
        return result;
    }

    /// <summary>Writes a block with all its effects as one atomic, synced batch.</summary>
    public void Commit(Block block, byte[] blockJson, IReadOnlyList<byte[]> txJson, BlockState changes, LatticeHash lattice, Hash256 genesisHash,
        IEnumerable<(Address Party, int Index)> history)
    {
        var batch = new List<KeyValuePair<byte[], byte[]?>>(8 + (block.Transactions.Count * 4));
        var height = Be(block.Height);
        batch.Add(new(Key('B', height), blockJson));
        batch.Add(new(Key('H', block.Hash.ToArray()), height));
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            batch.Add(new(Key('T', block.Transactions[i].Id.ToArray()), [.. height, .. Be32(i), .. txJson[i]]));
        }
        foreach (var (party, index) in history)
        {
            batch.Add(new(Key('X', [.. party.PublicKey, .. height, .. Be32(index)]), block.Transactions[index].Id.ToArray()));
        }
        foreach (var (address, account) in changes.ChangedAccounts)
        {
            batch.Add(new(Key('A', address.PublicKey.ToArray()), account.IsEmpty ? null : account.Encode()));
        }
        foreach (var escrow in changes.ChangedEscrows)
        {
            batch.Add(new(Key('E', EscrowState.Key(escrow.JobId)), escrow.Encode()));
        }
        batch.Add(new(TipKey, [.. height, .. lattice.ToBytes(), .. genesisHash.ToArray()]));
        kv.Write(batch, sync: true);
    }

    private static byte[] Key(char prefix, ReadOnlySpan<byte> rest)
    {
        var key = new byte[1 + rest.Length];
        key[0] = (byte)prefix;
        rest.CopyTo(key.AsSpan(1));
        return key;
    }

    private static byte[] Be(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, v);
        return b;
    }

    private static byte[] Be32(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, v);
        return b;
    }

    public void Dispose() => kv.Dispose();
}
