using Aitbc.Core;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Chain;

/// <summary>
/// Replays a stored chain from its genesis into a fresh in-memory chain, verifying every block in
/// full, and compares the state root it arrives at with the one stored at the head.
/// </summary>
public static class ChainVerifier
{
    public sealed record Report(long Height, Hash256 StoredRoot, Hash256 ReplayedRoot, string? Error)
    {
        public bool Ok => Error is null && StoredRoot == ReplayedRoot;
    }

    public static Report Replay(IKeyValueStore stored, Genesis genesis, IProgress<long>? progress = null)
    {
        var source = new ChainStore(stored);
        var tip = source.ReadTip() ?? throw new StorageCorruptException("the store holds no chain");
        var head = source.ReadBlock(tip.Height);
        using var replay = Blockchain.Open(new MemoryStore(), genesis);
        if (source.ReadBlock(0).Hash != replay.Head.Hash)
        {
            return new Report(0, head.Header.StateRoot, replay.Head.Header.StateRoot, "block 0 differs from the one the genesis gives");
        }
        for (var h = 1L; h <= tip.Height; h++)
        {
            var error = replay.Import(source.ReadBlock(h));
            if (error is not null)
            {
                return new Report(h, head.Header.StateRoot, replay.Head.Header.StateRoot, $"block {h}: {error}");
            }
            progress?.Report(h);
        }
        return new Report(tip.Height, head.Header.StateRoot, replay.State.Lattice.Root(), null);
    }
}
