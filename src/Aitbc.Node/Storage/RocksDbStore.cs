using RocksDbSharp;

namespace Aitbc.Node.Storage;

/// <summary>RocksDB with paranoid checks; a batch written with sync is on disk before Write returns.</summary>
public sealed class RocksDbStore : IKeyValueStore
{
    private readonly RocksDb _db;
    private readonly WriteOptions _sync = new WriteOptions().SetSync(true);
    private readonly WriteOptions _async = new WriteOptions().SetSync(false);

    public RocksDbStore(string path)
    {
        Directory.CreateDirectory(path);
        var options = new DbOptions()
            .SetCreateIfMissing(true)
            .SetParanoidChecks(true)
            .SetMaxOpenFiles(512)
            .IncreaseParallelism(Math.Max(2, Environment.ProcessorCount))
            // Admission looks up every new transaction id, and almost all are absent: a Bloom filter
            // answers those from memory instead of reading an index and a data block per file.
            .SetBlockBasedTableFactory(new BlockBasedTableOptions().SetFilterPolicy(BloomFilterPolicy.Create(10)).SetWholeKeyFiltering(true));
        try
        {
            _db = RocksDb.Open(options, path);
        }
        catch (RocksDbException e)
        {
            throw new Chain.StorageCorruptException($"RocksDB at '{path}' cannot be opened: {e.Message}");
        }
    }

    public byte[]? Get(ReadOnlySpan<byte> key) => _db.Get(key.ToArray());

    public void Write(IReadOnlyList<KeyValuePair<byte[], byte[]?>> batch, bool sync)
    {
        using var wb = new WriteBatch();
        foreach (var (key, value) in batch)
        {
            if (value is null)
            {
                wb.Delete(key);
            }
            else
            {
                wb.Put(key, value);
            }
        }
        _db.Write(wb, sync ? _sync : _async);
    }

    public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix, bool reverse = false)
    {
        using var it = _db.NewIterator();
        if (reverse)
        {
            it.SeekForPrev(UpperBound(prefix));
        }
        else
        {
            it.Seek(prefix);
        }
        while (it.Valid())
        {
            var key = it.Key();
            if (!key.AsSpan().StartsWith(prefix))
            {
                if (reverse && key.AsSpan().SequenceCompareTo(prefix) > 0)
                {
                    it.Prev();
                    continue;
                }
                yield break;
            }
            yield return new(key, it.Value());
            if (reverse)
            {
                it.Prev();
            }
            else
            {
                it.Next();
            }
        }
    }

    /// <summary>The prefix followed by 0xFF bytes: at or after every key with this prefix that the schema writes.</summary>
    private static byte[] UpperBound(byte[] prefix)
    {
        var bound = new byte[prefix.Length + 64];
        prefix.CopyTo(bound, 0);
        bound.AsSpan(prefix.Length).Fill(0xFF);
        return bound;
    }

    public void Dispose() => _db.Dispose();
}
