using System.Text;
using Aitbc.Node.Storage;

namespace Aitbc.Node.Tests.Storage;

public sealed class RocksDbStoreTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static KeyValuePair<byte[], byte[]?> Put(string key, string? value) => new(B(key), value is null ? null : B(value));

    [Fact]
    public void Batches_round_trip_and_survive_reopening()
    {
        using var dir = new TempDir();
        using (var store = new RocksDbStore(dir.Sub("db")))
        {
            store.Write([Put("a1", "one"), Put("a2", "two"), Put("b1", "other"), Put("a3", "three")], sync: true);
            store.Write([Put("a2", null), Put("a3", "THREE")], sync: true);

            Assert.Equal(B("one"), store.Get(B("a1")));
            Assert.Null(store.Get(B("a2")));
            Assert.Equal(B("THREE"), store.Get(B("a3")));
            Assert.Null(store.Get(B("zz")));
        }

        using var reopened = new RocksDbStore(dir.Sub("db"));

        Assert.Equal(B("THREE"), reopened.Get(B("a3")));
        Assert.Null(reopened.Get(B("a2")));
        Assert.Equal(["a1", "a3"], reopened.Scan(B("a")).Select(kv => Encoding.UTF8.GetString(kv.Key)));
    }

    [Fact]
    public void Scan_finds_exactly_the_prefix_forward_and_reversed()
    {
        using var dir = new TempDir();
        using var store = new RocksDbStore(dir.Sub("db"));
        store.Write([Put("X1", "a"), Put("X2", "b"), Put("X3", "c"), Put("W9", "before"), Put("Y0", "after"), Put("X", "bare")], sync: false);

        var forward = store.Scan(B("X")).Select(kv => Encoding.UTF8.GetString(kv.Key)).ToArray();
        var reverse = store.Scan(B("X"), reverse: true).Select(kv => Encoding.UTF8.GetString(kv.Key)).ToArray();

        Assert.Equal(["X", "X1", "X2", "X3"], forward);
        Assert.Equal(["X3", "X2", "X1", "X"], reverse);
        Assert.Empty(store.Scan(B("Z")));
        Assert.Empty(store.Scan(B("Z"), reverse: true));
    }

    [Fact]
    public void Scan_reversed_with_binary_keys_stays_within_the_prefix()
    {
        using var dir = new TempDir();
        using var store = new RocksDbStore(dir.Sub("db"));
        byte[] prefix = [0x58, 0x01];
        store.Write([
            new([0x58, 0x01, 0x00], [1]), new([0x58, 0x01, 0xFF, 0xFF], [2]), new([0x58, 0x02], [3]), new([0x58, 0x00, 0xFF], [4]),
        ], sync: true);

        Assert.Equal([2, 1], store.Scan(prefix, reverse: true).Select(kv => (int)kv.Value[0]));
        Assert.Equal([1, 2], store.Scan(prefix).Select(kv => (int)kv.Value[0]));
    }
}
