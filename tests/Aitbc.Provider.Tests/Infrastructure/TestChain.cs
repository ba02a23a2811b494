using Aitbc.Node;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// The provider tests' node: a <see cref="LoopbackNode"/> whose faucet anyone may call at any rate, logging
/// into the test's <see cref="LogBuffer"/>, with blocks at most every <c>minBlockIntervalMs</c> while
/// transactions are pending.
/// </summary>
public sealed class TestChain : LoopbackNode
{
    public const string ChainId = "aitbc-provider-test";
    public static readonly Amount Fee = GenesisBuilder.MinFee;

    private TestChain(NodeServer server, Genesis genesis)
        : base(server, genesis)
    {
    }

    public static async Task<TestChain> StartAsync(string dataDir, LogBuffer logs, int minBlockIntervalMs = 20, IEnumerable<GenesisAllocation>? allocations = null)
    {
        var genesis = GenesisBuilder.ForLoopback(ChainId).WithFaucet(stock: Amount.FromAit(1_000_000))
            .WithParams(p => p with { MinBlockIntervalMs = minBlockIntervalMs }).Fund(allocations ?? []).Build();
        return new TestChain(await StartServerAsync(OpenFaucetOptions(dataDir), genesis, logs.AddTo), genesis);
    }
}
