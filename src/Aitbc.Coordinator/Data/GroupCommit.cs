using System.Threading.Channels;
using Microsoft.Extensions.Hosting;

namespace Aitbc.Coordinator.Data;

/// <summary>
/// Group commit: callers queue an item and await its result; one loop takes every item queued while the previous
/// batch was being written and writes them as one batch (one transaction), so a burst costs one commit, not one
/// each, and one writer takes the database's write lock instead of many racing for it. When a batch fails, its
/// items are written again one at a time (where one item can be at fault: <see cref="RetryAlone"/>), so an error
/// is answered only to the item that caused it. No error ends the loop; items still queued when the service stops
/// are canceled. The queue is bounded: when it is full a caller is told at once (<see cref="TryCommit"/>), and an
/// item whose caller gave up before its batch was taken is not written.
/// </summary>
internal abstract class GroupCommit<TItem, TResult> : BackgroundService
{
    private readonly Channel<Pending> _queue;
    private readonly int _maxBatch;
    private volatile bool _stopping;

    protected GroupCommit(int maxBatch, int queueLimit)
    {
        _maxBatch = maxBatch;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(queueLimit) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    private sealed record Pending(TItem Item, TaskCompletionSource<TResult> Done, CancellationToken Caller);

    /// <summary>Writes one batch in one transaction: a result per item, in order; on an error nothing of it is committed.</summary>
    protected abstract Task<TResult[]> WriteAsync(IReadOnlyList<TItem> batch);

    /// <summary>The order a batch is written in (for example, one that lets writers on several instances take locks in one order).</summary>
    protected virtual Comparison<TItem>? Order => null;

    /// <summary>
    /// Whether a failed batch is written again item by item. Only worth it where one item can make a batch fail;
    /// where none can, a failure is the database's, and trying each item alone would hold every caller up behind it.
    /// </summary>
    protected virtual bool RetryAlone => true;

    /// <summary>
    /// Queues the item; the task answers once its batch is committed (canceled if <paramref name="ct"/> fires first: when
    /// that is before its batch is taken, the item is not written). Null when the queue is full.
    /// </summary>
    protected Task<TResult>? TryCommit(TItem item, CancellationToken ct)
    {
        var pending = new Pending(item, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously), ct);
        if (!_queue.Writer.TryWrite(pending))
        {
            return _stopping ? throw new InvalidOperationException("the coordinator is stopping") : null;
        }
        return pending.Done.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(_maxBatch);
        var order = Order;
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var p))
                {
                    // Its caller left (gave up, or disconnected) while it queued: no work for nobody.
                    if (p.Caller.IsCancellationRequested)
                    {
                        p.Done.TrySetCanceled(p.Caller);
                        continue;
                    }
                    batch.Add(p);
                }
                if (batch.Count == 0)
                {
                    continue;
                }
                if (order is not null)
                {
                    batch.Sort((a, b) => order(a.Item, b.Item));
                }
                if (!await TryWriteAsync(batch, answerErrors: batch.Count == 1 || !RetryAlone))
                {
                    foreach (var p in batch)
                    {
                        await TryWriteAsync([p], answerErrors: true);
                    }
                }
                batch.Clear();
            }
        }
        finally
        {
            _stopping = true;
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var p))
            {
                batch.Add(p);
            }
            foreach (var p in batch)
            {
                p.Done.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    /// <summary>Writes the batch and answers each item; on an error, only with <paramref name="answerErrors"/> is the error their answer.</summary>
    private async Task<bool> TryWriteAsync(List<Pending> batch, bool answerErrors)
    {
        TResult[] results;
        try
        {
            results = await WriteAsync([.. batch.Select(p => p.Item)]);
        }
        catch (Exception e)
        {
            // Any error, not only the database's (no token is in play here): the loop must go on for the items still to come.
            if (answerErrors)
            {
                foreach (var p in batch)
                {
                    p.Done.TrySetException(e);
                }
            }
            return false;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }
        return true;
    }
}
