namespace Aitbc.ServiceDefaults.Networks;

/// <summary>
/// Rate limits by key (a client's network, an address), each a generic cell rate limit: one permit every
/// <c>interval</c>, up to <c>burst</c> at once, kept as the time the key's permits are spent up to. A key
/// whose time has passed holds nothing worth keeping, so the table is pruned of those; it never holds more
/// than <c>maxKeys</c>, and while it is full of busy keys a new key is refused rather than remembered.
/// Every service's per-network and per-key limit is one of these (keyed by <see cref="ClientNetwork"/> for networks).
/// </summary>
public sealed class RateLimits<TKey>(TimeSpan interval, int burst, int maxKeys, TimeProvider time)
    where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TKey, long> _spentUntil = [];
    private readonly long _interval = interval > TimeSpan.Zero && burst >= 1 && maxKeys >= 1
        ? Math.Max(1, interval.Ticks)
        : throw new ArgumentOutOfRangeException(nameof(interval), $"a rate limit needs a positive interval, burst and table size (got {interval}, {burst}, {maxKeys})");
    private long _lastPrune;

    public int Burst => burst;

    /// <summary>Takes <paramref name="cost"/> permits for <paramref name="key"/>, or says how long until they would be there.</summary>
    public bool TryTake(TKey key, int cost, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            var known = _spentUntil.TryGetValue(key, out var until);
            var start = known ? Math.Max(until, now) : now;
            var next = start + (cost * _interval);
            var earliest = next - (burst * _interval);
            if (earliest > now)
            {
                retryAfter = TimeSpan.FromTicks(earliest - now);
                return false;
            }
            if (!known && _spentUntil.Count >= maxKeys && !Prune(now))
            {
                retryAfter = TimeSpan.FromSeconds(1);
                return false;
            }
            _spentUntil[key] = next;
            retryAfter = TimeSpan.Zero;
            return true;
        }
    }

    /// <summary>Forgets a key, as if it had never taken anything.</summary>
    public void Forget(TKey key)
    {
        lock (_lock)
        {
            _spentUntil.Remove(key);
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _spentUntil.Count;
            }
        }
    }

    /// <summary>Forgets keys whose permits are all back; at most once a second, so a full table costs no scan per request.</summary>
    private bool Prune(long now)
    {
        if (now - _lastPrune < TimeSpan.TicksPerSecond)
        {
            return false;
        }
        _lastPrune = now;
        foreach (var (key, until) in _spentUntil)
        {
            if (until <= now)
            {
                _spentUntil.Remove(key);
            }
        }
        return _spentUntil.Count < maxKeys;
    }
}

/// <summary>Retry-After values of the limits.</summary>
public static class RetryAfter
{
    /// <summary>Whole seconds for a Retry-After header, at least 1.</summary>
    public static int Seconds(TimeSpan wait) => (int)Math.Max(1, Math.Ceiling(wait.TotalSeconds));

    /// <summary>Sets the response's Retry-After header to <see cref="Seconds"/> of <paramref name="wait"/>.</summary>
    public static void Set(Microsoft.AspNetCore.Http.HttpResponse response, TimeSpan wait) =>
        response.Headers.RetryAfter = Seconds(wait).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
