using System.Net;
using Aitbc.Node.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>
/// Attack 11 (docs/security.md, the second review), the fan-out's part: a subscriber cut off for falling behind stayed in the
/// indexes until its socket closed, so every later block still looked it up. Now it leaves them as soon as it is cut off.
/// </summary>
public sealed class CutOffTests
{
    [Fact]
    public async Task Attack11_ACutOffSubscriberLeavesTheIndexesAtOnce()
    {
        using var c = TestChain.New().Fund(TestKeys.Alice, 1_000 * TestChain.Ait).Open();
        await using var events = new ChainEvents(c.Chain);
        var watched = TestKeys.Bob.Address;
        var reader = events.Connect(IPAddress.Loopback, out _)!;
        var slow = events.Connect(IPAddress.Loopback, out _)!;
        Assert.True(events.Blocks(slow, on: true));
        Assert.True(events.Address(slow, watched, on: true));
        Assert.True(events.Blocks(reader, on: true));
        Assert.Equal(3, events.Indexed);

        // One block with more transfers to the watched address than a subscriber's buffer holds; the slow one never reads.
        var txs = Enumerable.Range(0, ChainEvents.Subscriber.Buffer + 1).Select(n => Tx.Transfer(watched, 1).WithNonce(n).SignedBy(TestKeys.Alice)).ToArray();
        c.ProduceOk(txs);
        await MempoolFloodTests.WaitUntil(() => Task.FromResult(slow.Overflowed));

        // Cut off, it is in no index any more, though its connection is still open; its subscribe requests change nothing.
        Assert.Equal(1, events.Indexed);
        Assert.Equal(2, events.Count);
        Assert.True(events.Address(slow, TestKeys.Carol.Address, on: true));
        Assert.Equal(1, events.Indexed);
        Assert.False(reader.Overflowed);
        events.Disconnect(slow);
        Assert.Equal(1, events.Count);
    }
}
