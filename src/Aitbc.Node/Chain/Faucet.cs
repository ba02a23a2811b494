using System.Net;
using Aitbc.Core;
using Aitbc.Node.Mempool;
using Aitbc.ServiceDefaults;
using Aitbc.ServiceDefaults.Networks;

namespace Aitbc.Node.Chain;

/// <summary>How often the faucet pays: one address per cooldown (0: no cooldown), per client network, and overall.</summary>
/// <param name="MaxKeys">Most addresses, and most networks, remembered at once; beyond that, new ones wait.</param>
internal sealed record FaucetLimits(TimeSpan Cooldown, int PerNetworkPerMinute = 60, int PerSecond = 10, int MaxKeys = 100_000);

/// <summary>
/// The devnet faucet: sends a normal signed transfer from the faucet account named in the genesis.
/// Rate-limited per address, per client network and overall, in bounded memory. The transfer goes through
/// the same <see cref="Admission"/> as any other, so it meets the same refusals. Balances change only when
/// the transfer is in a block.
/// </summary>
internal sealed class Faucet
{
    private readonly Blockchain _chain;
    private readonly Admission _admission;
    private readonly Ed25519Key _key;
    private readonly RateLimits<Address>? _perAddress;
    private readonly RateLimits<IPAddress> _perNetwork;
    private readonly RateLimits<int> _overall;
    private readonly Lock _nonceLock = new();

    public Faucet(Blockchain chain, Admission admission, Ed25519Key key, FaucetLimits limits, TimeProvider time)
    {
        _chain = chain;
        _admission = admission;
        _key = key;
        _perAddress = limits.Cooldown > TimeSpan.Zero ? new RateLimits<Address>(limits.Cooldown, 1, limits.MaxKeys, time) : null;
        // A minute's worth at once per network, ten seconds' worth overall.
        _perNetwork = new RateLimits<IPAddress>(TimeSpan.FromMinutes(1) / limits.PerNetworkPerMinute, limits.PerNetworkPerMinute, limits.MaxKeys, time);
        _overall = new RateLimits<int>(TimeSpan.FromSeconds(1) / limits.PerSecond, limits.PerSecond * 10, 1, time);
    }

    public Address Address => _key.Address;

    /// <summary>Client networks the faucet remembers now (bounded by <see cref="FaucetLimits.MaxKeys"/>).</summary>
    internal int RememberedNetworks => _perNetwork.Count;

    public (Transaction? Tx, Refusal? Refusal) Send(Address to, Amount? requested, IPAddress network)
    {
        var amount = requested ?? _chain.Params.FaucetAmount;
        if (amount.IsZero || amount > _chain.Params.FaucetAmount)
        {
            return (null, new Refusal(RefusalCode.InvalidAmount, $"the faucet pays from 1 to {_chain.Params.FaucetAmount} base units"));
        }
        lock (_nonceLock)
        {
            // The address first: a repeated request for it costs its network and everyone else nothing.
            if (_perAddress is not null && !_perAddress.TryTake(to, 1, out var wait))
            {
                return (null, new Refusal(RefusalCode.RateLimited, $"{to} was paid recently; try again in {RetryAfter.Seconds(wait)} s"));
            }
            if (!_perNetwork.TryTake(network, 1, out wait))
            {
                Refund(to);
                return (null, new Refusal(RefusalCode.RateLimited, $"this network, or too many networks at once, asked the faucet too often; try again in {RetryAfter.Seconds(wait)} s"));
            }
            if (!_overall.TryTake(0, 1, out wait))
            {
                Refund(to);
                return (null, new Refusal(RefusalCode.RateLimited, $"the faucet is busy; try again in {RetryAfter.Seconds(wait)} s"));
            }
            var tx = Transaction.Sign(_key, _chain.ChainId, _admission.Pool.NextNonce(_key.Address), _chain.Params.MinFee, new TransferBody(to, amount, "faucet"));
            if (_admission.Admit(tx) is { } refusal)
            {
                Refund(to);
                return (null, refusal);
            }
            return (tx, null);
        }
    }

    /// <summary>An address that was not paid may ask again at once.</summary>
    private void Refund(Address to) => _perAddress?.Forget(to);
}
