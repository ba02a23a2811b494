using System.Diagnostics;

namespace Aitbc.Bench.Node;

/// <summary>
/// Per transfer (by index): when its submission started and when its block was observed
/// (<see cref="Stopwatch"/> timestamps, 0 = not yet). Also the count of transfers the node has
/// accepted and not yet committed: the submitters' window.
/// </summary>
internal sealed class Ledger(int capacity)
{
    private readonly Lock _lock = new();
    private long[] _submitted = new long[capacity];
    private long[] _committed = new long[capacity];
    private long _pending;
    private long _committedCount;
    private long _acceptedCount;
    private long _refusedCount;

    /// <summary>Accepted (or being submitted) and not yet seen in a block.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    public long CommittedCount => Interlocked.Read(ref _committedCount);

    public long AcceptedCount => Interlocked.Read(ref _acceptedCount);

    public long RefusedCount => Interlocked.Read(ref _refusedCount);

    public ConcurrentRefusals Refusals { get; } = new();

    /// <summary>Makes room for more transfers; called between phases, when nothing is being submitted.</summary>
    public void Grow(int capacity)
    {
        lock (_lock)
        {
            if (capacity > _submitted.Length)
            {
                Array.Resize(ref _submitted, capacity);
                Array.Resize(ref _committed, capacity);
            }
        }
    }

    /// <summary>Marks transfers [from, to) as submitted now; they count against the window at once.</summary>
    public void Submitting(int from, int to, long now)
    {
        Interlocked.Add(ref _pending, to - from);
        _submitted.AsSpan(from, to - from).Fill(now);
    }

    public void Submitting(int index, long now)
    {
        Interlocked.Increment(ref _pending);
        _submitted[index] = now;
    }

    public void Answered(int accepted, int refused)
    {
        Interlocked.Add(ref _acceptedCount, accepted);
        Interlocked.Add(ref _refusedCount, refused);
        Interlocked.Add(ref _pending, -refused);
    }

    /// <summary>Records a block's transfers as committed at <paramref name="seen"/>; returns how many were not ours.</summary>
    public int Commit(IReadOnlyList<long> indices, long seen)
    {
        var foreign = 0;
        var ours = 0;
        lock (_lock)
        {
            foreach (var i in indices)
            {
                if (i < 0 || i >= _submitted.Length || _committed[i] != 0)
                {
                    foreign++;
                    continue;
                }
                _committed[i] = seen;
                ours++;
            }
        }
        Interlocked.Add(ref _pending, -ours);
        Interlocked.Add(ref _committedCount, ours);
        return foreign;
    }

    public long SubmittedAt(int index) => _submitted[index];

    public long CommittedAt(int index) => Volatile.Read(ref _committed[index]);

    /// <summary>Latencies (seconds) of transfers [from, to) submitted within [start, end); and how many of those never committed.</summary>
    public (double[] Latencies, int Uncommitted) Latencies(int from, int to, long start, long end)
    {
        var list = new List<double>(Math.Max(0, to - from));
        var missing = 0;
        for (var i = from; i < to; i++)
        {
            var s = _submitted[i];
            if (s == 0 || s < start || s >= end)
            {
                continue;
            }
            var c = _committed[i];
            if (c == 0)
            {
                missing++;
                continue;
            }
            list.Add(Stopwatch.GetElapsedTime(s, c).TotalSeconds);
        }
        var array = list.ToArray();
        Array.Sort(array);
        return (array, missing);
    }
}

/// <summary>Refusal reasons by code, with one example each.</summary>
internal sealed class ConcurrentRefusals
{
    private readonly Dictionary<string, (long Count, string Example)> _byCode = new(StringComparer.Ordinal);

    public void Add(string code, string example)
    {
        lock (_byCode)
        {
            _byCode[code] = _byCode.TryGetValue(code, out var e) ? (e.Count + 1, e.Example) : (1, example);
        }
    }

    public IReadOnlyDictionary<string, (long Count, string Example)> Snapshot()
    {
        lock (_byCode)
        {
            return new Dictionary<string, (long, string)>(_byCode, StringComparer.Ordinal);
        }
    }
}
