using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node.Chain;

namespace Aitbc.Node.Mempool;

/// <summary>What became of one transaction at the door: <see cref="Tx"/> once it parsed (null if not), <see cref="Refusal"/> unless admitted.</summary>
internal readonly record struct AdmissionResult(Transaction? Tx, Refusal? Refusal);

/// <summary>
/// The one way into the pool, whichever way a transaction arrives (alone, in a batch, from the faucet, later by
/// gossip), so that each gets the same refusal for the same fault. In order: parse; the checks that need no state
/// (chain, fee floor, amounts); the signature; then against the chain: not already committed, and the pool's own
/// checks (<see cref="TxPool.Add"/>). The first two stages depend on nothing that changes, so a batch runs them on
/// every core; the last runs in the batch's order.
/// </summary>
internal sealed class Admission(Blockchain chain, TxPool pool, TxTracker tracker)
{
    public TxPool Pool => pool;

    /// <summary>One transaction from its JSON.</summary>
    public AdmissionResult Admit(ReadOnlySpan<byte> json)
    {
        if (!Transaction.TryParse(json, out var tx, out var error))
        {
            return new(null, new Refusal(RefusalCode.InvalidTransaction, error));
        }
        return new(tx, Admit(tx));
    }

    /// <summary>One parsed transaction: every stage after parsing.</summary>
    public Refusal? Admit(Transaction tx) => Verify(tx) ?? Enter(tx);

    /// <summary>
    /// A batch, each element on its own: parsing, the stateless checks and the signatures spread over the cores, then
    /// admission in the batch's order (so a sender's consecutive nonces in one batch are admitted in turn).
    /// </summary>
    public AdmissionResult[] Admit(JsonElement[] elements)
    {
        var results = new AdmissionResult[elements.Length];
        Parallel.For(0, elements.Length, i =>
        {
            results[i] = Transaction.TryParse(elements[i], out var tx, out var error)
                ? new(tx, Verify(tx))
                : new(null, new Refusal(RefusalCode.InvalidTransaction, error));
        });
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i] is { Tx: { } tx, Refusal: null })
            {
                results[i] = new(tx, Enter(tx));
            }
        }
        return results;
    }

    /// <summary>The stages that need no state: thread-safe, and the signature, the costly one, last.</summary>
    private Refusal? Verify(Transaction tx)
    {
        if (Executor.CheckStateless(tx, chain.ChainId, chain.Params) is { } stateless)
        {
            return stateless;
        }
        return tx.VerifySignature() ? null : new Refusal(RefusalCode.BadSignature, $"the signature does not verify for {tx.From}");
    }

    /// <summary>The stages against the chain and the pool, for a transaction that passed <see cref="Verify"/>.</summary>
    private Refusal? Enter(Transaction tx)
    {
        if (chain.FindTx(tx.Id) is not null)
        {
            return new Refusal(RefusalCode.Duplicate, $"transaction {tx.Id} is already committed");
        }
        tracker.Readmitting(tx.Id);
        return pool.Add(tx);
    }
}
