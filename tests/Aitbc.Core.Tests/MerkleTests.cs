using System.Security.Cryptography;

namespace Aitbc.Core.Tests;

public sealed class MerkleTests
{
    public static TheoryData<string> Vectors => CoreVectors.Names("merkle");

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Root_reproduces_the_vectors(string name)
    {
        var v = CoreVectors.Named("merkle", name);
        var leaves = v.GetProperty("leaves").EnumerateArray().Select(e => Hash256.Parse(e.GetString()!)).ToArray();

        Assert.Equal(v.Text("root"), Merkle.Root(leaves).ToString());
    }

    [Fact]
    public void Vectors_have_0_1_2_3_and_5_leaves()
    {
        Assert.Equal([0, 1, 2, 3, 5], CoreVectors.Section("merkle").Select(v => v.GetProperty("leaves").GetArrayLength()));
    }

    [Fact]
    public void Empty_root_is_SHA256_of_nothing()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Merkle.Root([]).ToString());
    }

    [Fact]
    public void Roots_follow_the_RFC6962_rules()
    {
        var a = Hash256.Compute("a"u8);
        var b = Hash256.Compute("b"u8);
        var c = Hash256.Compute("c"u8);

        Assert.Equal(Leaf(a), Merkle.Root([a]));
        Assert.Equal(Node(Leaf(a), Leaf(b)), Merkle.Root([a, b]));
        Assert.Equal(Node(Node(Leaf(a), Leaf(b)), Leaf(c)), Merkle.Root([a, b, c]));
        Assert.Equal(Node(Node(Node(Leaf(a), Leaf(b)), Node(Leaf(c), Leaf(a))), Leaf(b)), Merkle.Root([a, b, c, a, b]));
    }

    [Fact]
    public void Order_matters_and_an_odd_leaf_is_not_duplicated()
    {
        var a = Hash256.Compute("a"u8);
        var b = Hash256.Compute("b"u8);
        var c = Hash256.Compute("c"u8);

        Assert.NotEqual(Merkle.Root([a, b]), Merkle.Root([b, a]));
        // Bitcoin's duplication of the last node lets two lists share a root (CVE-2012-2459).
        Assert.NotEqual(Merkle.Root([a, b, c]), Merkle.Root([a, b, c, c]));
        // The leaf prefix keeps a leaf from posing as an inner node.
        Assert.NotEqual(Merkle.Root([a, b]), Merkle.Root([Node(Leaf(a), Leaf(b))]));
    }

    private static Hash256 Leaf(Hash256 id) => new(SHA256.HashData([0x00, .. id.ToArray()]));

    private static Hash256 Node(Hash256 left, Hash256 right) => new(SHA256.HashData([0x01, .. left.ToArray(), .. right.ToArray()]));
}
