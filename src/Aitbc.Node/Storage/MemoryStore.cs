namespace Aitbc.Node.Storage;

/// <summary>An in-memory ordered store with the same batch semantics, for tests that need no durability.</summary>
public sealed class MemoryStore : IKeyValueStore
{
    private readonly SortedDictionary<byte[], byte[]> _data = new(ByteComparer.Instance);
    private readonly Lock _lock = new();

    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            return _data.TryGetValue(key.ToArray(), out var v) ? v : null;
        }
    }

    public void Write(IReadOnlyList<KeyValuePair<byte[], byte[]?>> batch, bool sync)
    {
        lock (_lock)
        {
            foreach (var (key, value) in batch)
            {
                if (value is null)
                {
                    _data.Remove(key);
                }
                else
                {
                    _data[key] = value;
                }
            }
        }
    }

    public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix, bool reverse = false)
    {
        List<KeyValuePair<byte[], byte[]>> hits;
        lock (_lock)
        {
            hits = [.. _data.Where(kv => kv.Key.AsSpan().StartsWith(prefix))];
        }
        if (reverse)
        {
            hits.Reverse();
        }
        return hits;
    }

    public void Dispose()
    {
    }

    private sealed class ByteComparer : IComparer<byte[]>
    {
        public static readonly ByteComparer Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
