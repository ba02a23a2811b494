using System.Net;
using Aitbc.Node.Chain;
using Aitbc.Node.Tests.Rpc;

namespace Aitbc.Node.Tests.Security;

/// <summary>A faucet without per-address cooldown that pays one network three times a minute.</summary>
public sealed class StingyFaucetNode : TestNode
{
    public const int PerMinute = 3;

    protected override void Configure(NodeOptions options)
    {
        options.FaucetCooldownSeconds = 0;
        options.FaucetPerIpPerMinute = PerMinute;
    }
}

/// <summary>
/// Attack 14 (docs/security.md): the faucet limited only each address, so one client could drain it with fresh addresses, and it
/// remembered every address it ever paid.
/// </summary>
public sealed class FaucetAbuseTests(StingyFaucetNode node) : IClassFixture<StingyFaucetNode>
{
    private const ulong Ait = TestNode.Ait;

    [Fact]
    public async Task Attack14_OneNetworkCannotDrainTheFaucetWithFreshAddresses()
    {
        var faucetBefore = await node.AccountAsync(TestNode.Faucet.Address);
        var fresh = Enumerable.Range(0, StingyFaucetNode.PerMinute + 2).Select(_ => TestNode.EmptyKey().Address).ToArray();
        var statuses = new List<HttpStatusCode>();
        string? code = null;
        foreach (var a in fresh)
        {
            using var response = await node.PostJsonAsync("/v1/faucet?wait=commit", $$"""{"address":"{{a}}","amount":"{{Ait}}"}""");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                code ??= (await TestNode.ReadJsonAsync(response, HttpStatusCode.TooManyRequests)).GetProperty("code").GetString();
            }
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, StingyFaucetNode.PerMinute), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal("rate_limited", code);
        // Only the three payments left the faucet; the refused addresses got nothing.
        Assert.Equal(faucetBefore.Balance - (StingyFaucetNode.PerMinute * (Ait + TestNode.Fee)), (await node.AccountAsync(TestNode.Faucet.Address)).Balance);
        Assert.Equal((0UL, 0L), await node.AccountAsync(fresh[^1]));
        Assert.Equal((0UL, 0L), await node.AccountAsync(fresh[^2]));
    }

    [Fact]
    public void Attack14_ManyNetworksGetOnlyTheOverallRateAndAreRememberedInBoundedMemory()
    {
        // The real faucet, on a test chain, asked from 20,000 different networks for 20,000 fresh addresses at once.
        using var c = TestChain.New().Fund(TestKeys.Faucet, 1_000_000 * Ait)
            .WithParams(p => p with { Faucet = TestKeys.Faucet.Address, FaucetAmount = new Amount(100 * Ait) }).Open();
        var parts = NodeParts.For(c, capacity: 100_000);
        var faucet = new Faucet(c.Chain, parts.Admission, TestKeys.Faucet,
            new FaucetLimits(TimeSpan.FromSeconds(60), PerNetworkPerMinute: 5, PerSecond: 2, MaxKeys: 1_000), new FrozenClock());
        var paid = 0;
        var busy = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var network = new IPAddress([10, (byte)(i >> 16), (byte)(i >> 8), (byte)i]);
            // Addresses without keys: 20,000 live keys would take as many guarded memory mappings.
            var to = new Address(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)));
            var (tx, error) = faucet.Send(to, new Amount(1), network);
            paid += tx is null ? 0 : 1;
            busy += error?.Detail.StartsWith("the faucet is busy", StringComparison.Ordinal) == true ? 1 : 0;
        }

        // Ten seconds' worth overall, whatever the number of networks; and no more than 1,000 networks remembered.
        Assert.Equal(20, paid);
        Assert.Equal(20, parts.Pool.Count);
        Assert.True(busy > 0);
        Assert.True(faucet.RememberedNetworks <= 1_000, $"{faucet.RememberedNetworks} networks remembered");
        parts.ProduceFromPool(c);
        Assert.Equal((1_000_000 * Ait) - (20 * (1 + TestChain.Fee)), c.Chain.State.Account(TestKeys.Faucet.Address).Balance.Units);
    }

    private sealed class FrozenClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(TestChain.GenesisTime);
    }
}
