using System.Collections.Concurrent;
using Aitbc.Core;
using Aitbc.ServiceDefaults;

namespace Aitbc.Node.Chain;

/// <summary>What became of a transaction: committed at a height, or refused with a reason.</summary>
internal sealed record TxOutcome(Hash256 Id, long Height, string? Reason)
{
    public bool Committed => Reason is null;
}

/// <summary>
/// Remembers recent refusals (committed transactions are found in storage) and wakes those who
/// wait for a transaction's block. Refusals are kept for the last <c>capacity</c> transactions.
/// </summary>
internal sealed class TxTracker
{
    private readonly ConcurrentDictionary<Hash256, TaskCompletionSource<TxOutcome>> _waiters = new();
    private readonly ConcurrentDictionary<Hash256, string> _rejected = new();
    private readonly ConcurrentQueue<Hash256> _rejectedOrder = new();
    private readonly int _capacity;

    public TxTracker(Blockchain chain, int capacity = 100_000)
    {
        _capacity = capacity;
        chain.Committed += OnCommitted;
    }

    public string? RejectionOf(Hash256 id) => _rejected.GetValueOrDefault(id);

    /// <summary>A refused transaction admitted again (the same bytes, now valid) starts afresh: its old refusal no longer answers for it.</summary>
    public void Readmitting(Hash256 id) => _rejected.TryRemove(id, out _);

    public Task<TxOutcome> WaitAsync(Hash256 id) =>
        _waiters.GetOrAdd(id, _ => new TaskCompletionSource<TxOutcome>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Forget(Hash256 id, Task<TxOutcome> waiting)
    {
        if (_waiters.TryGetValue(id, out var tcs) && tcs.Task == waiting && !waiting.IsCompleted)
        {
            _waiters.TryRemove(new KeyValuePair<Hash256, TaskCompletionSource<TxOutcome>>(id, tcs));
        }
    }

    public void Rejected(Transaction tx, long height, string reason)
    {
        _rejected[tx.Id] = reason;
        _rejectedOrder.Enqueue(tx.Id);
        while (_rejectedOrder.Count > _capacity && _rejectedOrder.TryDequeue(out var old))
        {
            _rejected.TryRemove(old, out _);
        }
        if (_waiters.TryRemove(tx.Id, out var tcs))
        {
            tcs.TrySetResult(new TxOutcome(tx.Id, height, reason));
        }
    }

    private void OnCommitted(CommittedBlock c)
    {
        if (_waiters.IsEmpty)
        {
            return;
        }
        foreach (var tx in c.Block.Transactions)
        {
            if (_waiters.TryRemove(tx.Id, out var tcs))
            {
                tcs.TrySetResult(new TxOutcome(tx.Id, c.Block.Height, null));
            }
        }
    }
}
