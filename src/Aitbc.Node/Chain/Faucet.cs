using System.Collections.Concurrent;
using Aitbc.Core;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;
using Aitbc.ServiceDefaults;

namespace Aitbc.Node.Chain;

/// <summary>
/// The devnet faucet: sends a normal signed transfer from the faucet account named in the genesis.
/// Rate-limited per address. Balances change only when the transfer is in a block.
/// </summary>
internal sealed class Faucet(Blockchain chain, TxPool pool, Ed25519Key key, TimeSpan cooldown, TimeProvider time)
{
    private readonly ConcurrentDictionary<Address, DateTimeOffset> _lastPaid = new();
    private readonly Lock _nonceLock = new();

    public Address Address => key.Address;

    public (Transaction? Tx, Rejection? Error) Send(Address to, Amount? requested)
    {
        var amount = requested ?? chain.Params.FaucetAmount;
        if (amount.IsZero || amount > chain.Params.FaucetAmount)
        {
            return (null, new(ApiErrors.InvalidAmount, $"the faucet pays from 1 to {chain.Params.FaucetAmount} base units"));
        }
        var now = time.GetUtcNow();
        if (_lastPaid.TryGetValue(to, out var last) && now - last < cooldown)
        {
            var wait = Math.Ceiling((cooldown - (now - last)).TotalSeconds);
            return (null, new(ApiErrors.RateLimited, $"{to} was paid recently; try again in {wait} s"));
        }
        lock (_nonceLock)
        {
            var tx = Transaction.Sign(key, chain.ChainId, pool.NextNonce(key.Address), chain.Params.MinFee, new TransferBody(to, amount, "faucet"));
            var error = pool.Add(tx);
            if (error is not null)
            {
                return (null, error);
            }
            _lastPaid[to] = now;
            return (tx, null);
        }
    }
}
