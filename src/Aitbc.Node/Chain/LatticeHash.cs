using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Aitbc.Node.Chain;

/// <summary>
/// A homomorphic multiset hash (LtHash with 1024 16-bit lanes, as in Bellare–Micciancio and
/// Lewi et al. "Securing Update Propagation with Homomorphic Hashing"): the hash of a set is the
/// lane-wise sum of its elements' 2048-byte SHAKE256 expansions. Adding or removing one element
/// costs the same whatever the size of the set, so the state root of a block costs time in
/// proportion to the accounts and escrows it touches, not to all of them.
/// </summary>
internal sealed class LatticeHash
{
    public const int Size = 2048;
    private readonly ushort[] _lanes;

    public LatticeHash() => _lanes = new ushort[Size / 2];

    private LatticeHash(ushort[] lanes) => _lanes = lanes;

    public static bool IsSupported => Shake256.IsSupported;

    public LatticeHash Clone() => new((ushort[])_lanes.Clone());

    public void Add(ReadOnlySpan<byte> element) => Mix(_lanes, element, subtract: false);

    public void Remove(ReadOnlySpan<byte> element) => Mix(_lanes, element, subtract: true);

    /// <summary>
    /// Adds and removes many elements, spread over the cores (a block touches thousands of accounts,
    /// two expansions each). Lane sums commute, so the result does not depend on the order.
    /// </summary>
    public void Update(IReadOnlyList<byte[]> added, IReadOnlyList<byte[]> removed)
    {
        var count = added.Count + removed.Count;
        if (count < 256)
        {
            foreach (var e in added)
            {
                Add(e);
            }
            foreach (var e in removed)
            {
                Remove(e);
            }
            return;
        }
        var gate = new Lock();
        Parallel.For(0, count, () => new ushort[Size / 2],
            (i, _, partial) =>
            {
                Mix(partial, i < added.Count ? added[i] : removed[i - added.Count], subtract: i >= added.Count);
                return partial;
            },
            partial =>
            {
                lock (gate)
                {
                    Sum(_lanes, partial);
                }
            });
    }

    private static void Mix(Span<ushort> lanes, ReadOnlySpan<byte> element, bool subtract)
    {
        Span<ushort> expansion = stackalloc ushort[Size / 2];
        Shake256.HashData(element, MemoryMarshal.AsBytes(expansion));
        var width = Vector<ushort>.Count;
        var i = 0;
        for (; i + width <= lanes.Length; i += width)
        {
            var a = new Vector<ushort>(lanes[i..]);
            var b = new Vector<ushort>(expansion[i..]);
            (subtract ? a - b : a + b).CopyTo(lanes[i..]);
        }
        for (; i < lanes.Length; i++)
        {
            lanes[i] = (ushort)(subtract ? lanes[i] - expansion[i] : lanes[i] + expansion[i]);
        }
    }

    private static void Sum(Span<ushort> lanes, ReadOnlySpan<ushort> other)
    {
        var width = Vector<ushort>.Count;
        var i = 0;
        for (; i + width <= lanes.Length; i += width)
        {
            (new Vector<ushort>(lanes[i..]) + new Vector<ushort>(other[i..])).CopyTo(lanes[i..]);
        }
        for (; i < lanes.Length; i++)
        {
            lanes[i] = (ushort)(lanes[i] + other[i]);
        }
    }

    /// <summary>Lanes in little-endian order, the form that is stored and hashed.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        for (var i = 0; i < _lanes.Length; i++)
        {
            bytes[2 * i] = (byte)_lanes[i];
            bytes[(2 * i) + 1] = (byte)(_lanes[i] >> 8);
        }
        return bytes;
    }

    public static LatticeHash FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new StorageCorruptException("the state lattice is not 2048 bytes");
        }
        var lanes = new ushort[Size / 2];
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] = (ushort)(bytes[2 * i] | (bytes[(2 * i) + 1] << 8));
        }
        return new LatticeHash(lanes);
    }

    /// <summary>The state root: SHA-256 of <c>AITBC/state/v1\n</c> + the lattice bytes.</summary>
    public Core.Hash256 Root()
    {
        var tag = Core.Domain.State;
        var buf = new byte[tag.Length + Size];
        tag.CopyTo(buf);
        ToBytes().CopyTo(buf, tag.Length);
        return Core.Hash256.Compute(buf);
    }
}
