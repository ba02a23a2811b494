using System.Diagnostics;
using System.Threading.Channels;
using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.Node.Mempool;
using Microsoft.Extensions.Logging;

namespace Aitbc.Node.Consensus;

/// <summary>
/// The single validator's consensus loop: one thread, fed by a channel of wake-ups. It builds a
/// block as soon as transactions are pending (no sooner than the minimum interval after the last),
/// and an empty heartbeat block when nothing has happened for the empty-block interval. Each block
/// it signs is final once it is durable.
/// </summary>
internal sealed partial class BlockProducer : IAsyncDisposable
{
    private readonly Blockchain _chain;
    private readonly TxPool _pool;
    private readonly TxTracker _tracker;
    private readonly Ed25519Key _key;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public BlockProducer(Blockchain chain, TxPool pool, TxTracker tracker, Ed25519Key key, TimeProvider time, ILogger<BlockProducer> log)
    {
        if (chain.Genesis.Validators.Count > 1)
        {
            throw new NotSupportedException(
                $"The genesis names {chain.Genesis.Validators.Count} validators: several validators need the BFT consensus engine, which is not built yet. Use a genesis with one validator.");
        }
        if (!chain.IsValidator(key.Address))
        {
            throw new InvalidOperationException($"The key {key.Address} is not a validator of chain {chain.ChainId}.");
        }
        _chain = chain;
        _pool = pool;
        _tracker = tracker;
        _key = key;
        _time = time;
        _log = log;
        pool.Admitted += () => _wake.Writer.TryWrite(true);
    }

    public bool Running => _loop is { IsCompleted: false };

    /// <summary>Set when the loop stopped on an error (storage failure); the node is then not ready.</summary>
    public Exception? Fault { get; private set; }

    public long BlocksProduced;
    public double CommitSecondsTotal;

    public void Start() => _loop = Task.Factory.StartNew(RunAsync, _stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync()
    {
        var p = _chain.Params;
        var ct = _stop.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var lastTime = _chain.Head.Header.Time;
                var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var heartbeatDue = lastTime + p.EmptyBlockIntervalMs;
                if (_pool.Count == 0)
                {
                    await WaitAsync(heartbeatDue - now, ct);
                    now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                    if (_pool.Count == 0 && now < heartbeatDue)
                    {
                        continue;
                    }
                }
                var earliest = lastTime + p.MinBlockIntervalMs;
                if (now < earliest)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(earliest - now), _time, ct);
                }
                var candidates = _pool.SelectReady(p.MaxBlockTxs);
                now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                if (candidates.Count == 0 && now < heartbeatDue)
                {
                    // Only transactions waiting for an earlier nonce: sleep until something changes.
                    await WaitAsync(heartbeatDue - now, ct);
                    continue;
                }
                Produce(candidates, now);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fault = e;
            LogStopped(_log, e);
            throw;
        }
    }

    private async Task WaitAsync(long milliseconds, CancellationToken ct)
    {
        if (milliseconds <= 0)
        {
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMilliseconds(milliseconds));
        try
        {
            await _wake.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
    }

    private void Produce(IReadOnlyList<Transaction> candidates, long now)
    {
        var started = Stopwatch.GetTimestamp();
        var built = _chain.Build(candidates, now, _key);
        var committed = _chain.Commit(built);
        // Out of the pool first: whoever hears of a refusal must find its nonce free again.
        _pool.Remove(built.Block.Transactions.Concat(built.Rejected.Select(r => r.Tx)));
        foreach (var (tx, reason) in built.Rejected)
        {
            _tracker.Rejected(tx, committed.Block.Height, reason);
        }
        BlocksProduced++;
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        CommitSecondsTotal += seconds;
        LogBlock(_log, committed.Block.Height, committed.Block.Transactions.Count, built.Rejected.Count, seconds * 1000);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (Exception) when (Fault is not null)
            {
                // Already logged when the loop stopped.
            }
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Block {Height} committed: {TxCount} transactions, {Rejected} refused, {Millis:F1} ms")]
    private static partial void LogBlock(ILogger log, long height, int txCount, int rejected, double millis);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Block production stopped")]
    private static partial void LogStopped(ILogger log, Exception e);
}
