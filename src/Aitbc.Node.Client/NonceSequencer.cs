using Aitbc.Core;

namespace Aitbc.Node.Client;

/// <summary>
/// Numbers one account's transactions: one at a time, each is given the node's next nonce for the
/// account and submitted before the next is numbered, so parallel senders get consecutive nonces
/// without gaps. The nonce is asked afresh every time, not counted here: the node's next nonce
/// includes its pending transactions, and one refused when its block is built frees its nonce again
/// (a counter kept here would then leave a gap that blocks every later send), as does a key used elsewhere.
/// </summary>
public sealed class NonceSequencer(NodeClient node, Address account) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Signs (through <paramref name="sign"/>, which may refuse) and submits the next transaction.</summary>
    public async Task<(Transaction? Tx, SubmitResult? Submitted, TError? Error)> SubmitNextAsync<TError>(
        Func<long, Task<(Transaction? Tx, TError? Error)>> sign, CancellationToken ct)
        where TError : class
    {
        await _gate.WaitAsync(ct);
        try
        {
            var nonce = (await node.AccountAsync(account, ct)).NextNonce;
            var (tx, error) = await sign(nonce);
            return tx is null ? (null, null, error) : (tx, await node.SubmitAsync(tx, waitForCommit: false, ct), null);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
