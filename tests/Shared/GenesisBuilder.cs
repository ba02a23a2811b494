using Aitbc.Core;

namespace Aitbc.Testing;

/// <summary>
/// A test genesis: one validator (<see cref="TestKeys.Validator"/>), the allocations a test asks for, and
/// its parameters. <c>GenesisBuilder.ForLoopback("aitbc-x-test").WithFaucet().Fund(alice, 5 * Ait).Build()</c>.
/// </summary>
public sealed class GenesisBuilder
{
    /// <summary>The minimum fee of every test chain, in base units.</summary>
    public const ulong Fee = 1_000;
    public static readonly Amount MinFee = new(Fee);
    private readonly List<GenesisAllocation> _allocations = [];
    private string _chainId;
    private long _time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private ChainParameters _params = new() { MinFee = MinFee };
    private bool _validate = true;

    private GenesisBuilder(string chainId) => _chainId = chainId;

    /// <summary>A chain starting now with the default parameters but the test fee.</summary>
    public static GenesisBuilder New(string chainId) => new(chainId);

    /// <summary>
    /// A chain for a node on loopback: blocks at most every 20 ms while transactions are pending and no heartbeat
    /// blocks, so the head (and every balance) moves only when a test sends something.
    /// </summary>
    public static GenesisBuilder ForLoopback(string chainId) =>
        New(chainId).WithParams(p => p with { MinBlockIntervalMs = 20, EmptyBlockIntervalMs = 3_600_000 });

    public GenesisBuilder At(long unixMs)
    {
        _time = unixMs;
        return this;
    }

    public GenesisBuilder WithChainId(string chainId)
    {
        _chainId = chainId;
        return this;
    }

    public GenesisBuilder Fund(Ed25519Key key, ulong units) => Fund(key.Address, new Amount(units));

    public GenesisBuilder Fund(Address address, ulong units) => Fund(address, new Amount(units));

    public GenesisBuilder Fund(Address address, Amount amount) => Fund([new GenesisAllocation(address, amount)]);

    public GenesisBuilder Fund(IEnumerable<GenesisAllocation> allocations)
    {
        _allocations.AddRange(allocations);
        return this;
    }

    /// <summary>A faucet (<see cref="TestKeys.Faucet"/>) holding <paramref name="stock"/> and paying <paramref name="perRequest"/> a request (by default 100,000,000 and 1,000 AIT).</summary>
    public GenesisBuilder WithFaucet(Amount? stock = null, Amount? perRequest = null)
    {
        Fund(TestKeys.Faucet.Address, stock ?? Amount.FromAit(100_000_000));
        return WithParams(p => p with { Faucet = TestKeys.Faucet.Address, FaucetAmount = perRequest ?? Amount.FromAit(1_000) });
    }

    public GenesisBuilder WithParams(Func<ChainParameters, ChainParameters> change)
    {
        _params = change(_params);
        return this;
    }

    /// <summary>For allocations past the 64-bit supply cap that a genesis file may not have, to reach the executor's overflow guards.</summary>
    public GenesisBuilder WithoutSupplyCheck()
    {
        _validate = false;
        return this;
    }

    public Genesis Build()
    {
        var genesis = new Genesis(_chainId, _time, [new GenesisValidator(TestKeys.Validator.Address, 1, "validator-0")], [.. _allocations], _params);
        if (_validate)
        {
            genesis.Validate();
        }
        return genesis;
    }
}
