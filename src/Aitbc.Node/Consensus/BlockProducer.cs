using System.Diagnostics;
using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.Node.Mempool;
using Microsoft.Extensions.Logging;

namespace Aitbc.Node.Consensus;

/// <summary>A block the consensus loop made: its transactions, those it refused (or dropped unexecuted), and the seconds it took to build and commit.</summary>
internal readonly record struct ProducedBlock(long Height, int Txs, int Refused, double Seconds);

/// <summary>
/// The single validator's consensus loop: one dedicated thread, woken when transactions are admitted. It
/// builds a block as soon as transactions are pending (no sooner than the minimum interval after the last),
/// and an empty heartbeat block when nothing has happened for the empty-block interval. Each block it signs
/// is final once it is durable. The thread is its own, not the thread pool's: under load the pool's
/// threads are all busy checking signatures, and the loop, which every committed transaction waits for,
/// must not queue behind them.
/// </summary>
internal sealed partial class BlockProducer : IAsyncDisposable
{
    private readonly Blockchain _chain;
    private readonly TxPool _pool;
    private readonly TxTracker _tracker;
    private readonly Ed25519Key _key;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ManualResetEventSlim _admitted = new(false);
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private volatile Exception? _fault;

    /// <param name="time">The clock blocks are stamped with; the loop's waits are in real time.</param>
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
        pool.Admitted += () =>
        {
            if (!_admitted.IsSet)
            {
                _admitted.Set();
            }
        };
    }

    public bool Running => _thread is { IsAlive: true };

    /// <summary>Set when the loop stopped on an error (storage failure); the node is then not ready.</summary>
    public Exception? Fault => _fault;

    /// <summary>Raised on the consensus thread after each block this node made is committed.</summary>
    public event Action<ProducedBlock>? Produced;

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "aitbc-consensus" };
        _thread.Start();
    }

    private void Run()
    {
        var p = _chain.Params;
        var ct = _stop.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Cleared before the pool is looked at: an admission from here on wakes the waits below.
                _admitted.Reset();
                var lastTime = _chain.Head.Header.Time;
                var now = NowMs();
                var heartbeatDue = lastTime + p.EmptyBlockIntervalMs;
                if (_pool.Count == 0)
                {
                    WaitForAdmission(heartbeatDue - now, ct);
                    if (_pool.Count == 0 && NowMs() < heartbeatDue)
                    {
                        continue;
                    }
                    now = NowMs();
                }
                var earliest = lastTime + p.MinBlockIntervalMs;
                if (now < earliest)
                {
                    ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(earliest - now));
                    ct.ThrowIfCancellationRequested();
                }
                var candidates = _pool.SelectReady(p.MaxBlockTxs);
                now = NowMs();
                if (candidates.Count == 0 && now < heartbeatDue)
                {
                    // Only transactions waiting for an earlier nonce: sleep until something changes.
                    WaitForAdmission(heartbeatDue - now, ct);
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
            // The thread ends here; the node sees the fault (not ready, and the executable stops with it).
            _fault = e;
            LogStopped(_log, e);
        }
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void WaitForAdmission(long milliseconds, CancellationToken ct)
    {
        if (milliseconds > 0)
        {
            _admitted.Wait(TimeSpan.FromMilliseconds(milliseconds), ct);
        }
    }

    /// <summary>One block of <paramref name="candidates"/> at <paramref name="now"/>, committed; the pool and tracker told (internal: tests drive it without the loop).</summary>
    internal BuiltBlock Produce(IReadOnlyList<Transaction> candidates, long now)
    {
        var started = Stopwatch.GetTimestamp();
        var built = _chain.Build(candidates, now, _key, _pool.SelectReady);
        var committed = _chain.Commit(built);
        // Out of the pool first: whoever hears of a refusal must find its nonce free again.
        var dropped = _pool.Remove(built.Block.Transactions, [.. built.Rejected.Select(r => r.Tx)]);
        foreach (var (tx, reason) in built.Rejected)
        {
            _tracker.Rejected(tx, committed.Block.Height, reason);
        }
        foreach (var tx in dropped)
        {
            _tracker.Rejected(tx, committed.Block.Height, $"dropped unexecuted: an earlier transaction of its sender was refused in block {committed.Block.Height}");
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Produced?.Invoke(new ProducedBlock(committed.Block.Height, committed.Block.Transactions.Count, built.Rejected.Count + dropped.Count, seconds));
        LogBlock(_log, committed.Block.Height, committed.Block.Transactions.Count, built.Rejected.Count, seconds * 1000);
        return built;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_thread is not null)
        {
            // A block being committed is finished first; the loop looks at the token between blocks.
            await Task.Run(_thread.Join);
        }
        _stop.Dispose();
        _admitted.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Block {Height} committed: {TxCount} transactions, {Rejected} refused, {Millis:F1} ms")]
    private static partial void LogBlock(ILogger log, long height, int txCount, int rejected, double millis);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Block production stopped")]
    private static partial void LogStopped(ILogger log, Exception e);
}
