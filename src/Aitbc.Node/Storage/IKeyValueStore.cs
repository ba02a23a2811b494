namespace Aitbc.Node.Storage;

/// <summary>
/// The node's storage seam: ordered keys, atomic batches. RocksDB in the node; memory in tests
/// that do not exercise durability.
/// </summary>
public interface IKeyValueStore : IDisposable
{
    byte[]? Get(ReadOnlySpan<byte> key);

    /// <summary>Writes every entry (a null value deletes) as one atomic batch; synced to disk when <paramref name="sync"/>.</summary>
    void Write(IReadOnlyList<KeyValuePair<byte[], byte[]?>> batch, bool sync);

    /// <summary>Entries whose keys start with <paramref name="prefix"/>, in key order or reversed.</summary>
    IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix, bool reverse = false);
}
