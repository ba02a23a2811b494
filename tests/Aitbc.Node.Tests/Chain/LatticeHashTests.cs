using System.Text;
using Aitbc.Node.Chain;

namespace Aitbc.Node.Tests.Chain;

/// <summary>Many elements at once (spread over the cores) give the same state commitment as one at a time.</summary>
public sealed class LatticeHashTests
{
    private static List<byte[]> Elements(string tag, int count) =>
        [.. Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetBytes($"{tag}-{i}"))];

    [Theory]
    [InlineData(10, 5)]
    [InlineData(3_000, 1_000)]
    public void Update_matches_adding_and_removing_one_at_a_time(int adds, int removes)
    {
        var start = new LatticeHash();
        foreach (var e in Elements("old", removes))
        {
            start.Add(e);
        }
        var oneByOne = start.Clone();
        foreach (var e in Elements("new", adds))
        {
            oneByOne.Add(e);
        }
        foreach (var e in Elements("old", removes))
        {
            oneByOne.Remove(e);
        }

        var batched = start.Clone();
        batched.Update(Elements("new", adds), Elements("old", removes));

        Assert.Equal(oneByOne.Root(), batched.Root());
        Assert.Equal(oneByOne.ToBytes(), batched.ToBytes());
    }

    [Fact]
    public void Removing_everything_that_was_added_gives_the_empty_commitment()
    {
        var lattice = new LatticeHash();
        lattice.Update(Elements("x", 2_000), []);
        lattice.Update([], Elements("x", 2_000));

        Assert.Equal(new LatticeHash().Root(), lattice.Root());
    }
}
