using System.Globalization;
using Aitbc.Node;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>The coordinator tests' node: a <see cref="LoopbackNode"/> whose faucet anyone may call at any rate.</summary>
public sealed class ChainNode : LoopbackNode
{
    public const string ChainId = "aitbc-coordinator-test";
    public const ulong Fee = GenesisBuilder.Fee;

    private ChainNode(NodeServer server, Genesis genesis)
        : base(server, genesis)
    {
    }

    /// <summary>Starts a node whose genesis gives each of <paramref name="funded"/> this many base units (besides the faucet's stock).</summary>
    public static async Task<ChainNode> StartAsync(string dataDir, IEnumerable<Address>? funded = null, ulong each = 0)
    {
        var genesis = GenesisBuilder.ForLoopback(ChainId).WithFaucet()
            .Fund((funded ?? []).Select(a => new GenesisAllocation(a, new Amount(each)))).Build();
        return new ChainNode(await StartServerAsync(OpenFaucetOptions(dataDir), genesis, logging: null), genesis);
    }

    public static string Str(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
