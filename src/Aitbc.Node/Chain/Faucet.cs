using Aitbc.ServiceDefaults.Networks;
using System.Net;
using Aitbc.Core;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;
using Aitbc.ServiceDefaults;

namespace Aitbc.Node.Chain;

/// <summary>How often the faucet pays: one address per cooldown (0: no cooldown), per client network, and overall.</summary>
/// <param name="MaxKeys">Most addresses, and most networks, remembered at once; beyond that, new ones wait.</param>
internal sealed record FaucetLimits(TimeSpan Cooldown, int PerNetworkPerMinute = 60, int PerSecond = 10, int MaxKeys = 100_000);

/// <summary>
/// The devnet faucet: sends a normal signed transfer from the faucet account named in the genesis.
/// Rate-limited per address, per client network and overall, in bounded memory. Balances change only
/// when the transfer is in a block.
/// </summary>
internal sealed class Faucet
{
    private readonly Blockchain _chain;
    private readonly TxPool _pool;
    private readonly Ed25519Key _key;
    private readonly RateLimits<Address>? _perAddress;
    private readonly RateLimits<IPAddress> _perNetwork;
    private readonly RateLimits<int> _overall;
    private readonly Lock _nonceLock = new();

    public Faucet(Blockchain chain, TxPool pool, Ed25519Key key, FaucetLimits limits, TimeProvider time)
    {
        _chain = chain;
        _pool = pool;
        _key = key;
        _perAddress = limits.Cooldown > TimeSpan.Zero ? new RateLimits<Address>(limits.Cooldown, 1, limits.MaxKeys, time) : null;
        // A minute's worth at once per network, ten seconds' worth overall.
        _perNetwork = new RateLimits<IPAddress>(TimeSpan.FromMinutes(1) / limits.PerNetworkPerMinute, limits.PerNetworkPerMinute, limits.MaxKeys, time);
        _overall = new RateLimits<int>(TimeSpan.FromSeconds(1) / limits.PerSecond, limits.PerSecond * 10, 1, time);
    }

    public Address Address => _key.Address;

    /// <summary>Client networks the faucet remembers now (bounded by <see cref="FaucetLimits.MaxKeys"/>).</summary>
    internal int RememberedNetworks => _perNetwork.Count;

    public (Transaction? Tx, Rejection? Error) Send(Address to, Amount? requested, IPAddress network)
    {
        var amount = requested ?? _chain.Params.FaucetAmount;
        if (amount.IsZero || amount > _chain.Params.FaucetAmount)
        {
            return (null, new(ApiErrors.InvalidAmount, $"the faucet pays from 1 to {_chain.Params.FaucetAmount} base units"));
        }
        lock (_nonceLock)
        {
            // The address first: a repeated request for it costs its network and everyone else nothing.
            if (_perAddress is not null && !_perAddress.TryTake(to, 1, out var wait))
            {
                return (null, new(ApiErrors.RateLimited, $"{to} was paid recently; try again in {RetryAfter.Seconds(wait)} s"));
            }
            if (!_perNetwork.TryTake(network, 1, out wait))
            {
                Refund(to);
                return (null, new(ApiErrors.RateLimited, $"this network, or too many networks at once, asked the faucet too often; try again in {RetryAfter.Seconds(wait)} s"));
            }
            if (!_overall.TryTake(0, 1, out wait))
            {
                Refund(to);
                return (null, new(ApiErrors.RateLimited, $"the faucet is busy; try again in {RetryAfter.Seconds(wait)} s"));
            }
            var tx = Transaction.Sign(_key, _chain.ChainId, _pool.NextNonce(_key.Address), _chain.Params.MinFee, new TransferBody(to, amount, "faucet"));
            var error = _pool.Add(tx);
            if (error is not null)
            {
                Refund(to);
                return (null, error);
            }
            return (tx, null);
        }
    }

    /// <summary>An address that was not paid may ask again at once.</summary>
    private void Refund(Address to) => _perAddress?.Forget(to);
}
