using System.Net;
using System.Net.Sockets;

namespace Aitbc.Provider.Api;

/// <summary>
/// A per-network rate limit (an IPv4 address, an IPv6 /64) for the direct path: one permit every
/// 1/<c>perSecond</c> s, up to <c>burst</c> at once, kept as the time a network's permits are spent up
/// to. At most <see cref="MaxKeys"/> networks are remembered; idle ones are pruned (at most once a
/// second), and while the table is full of busy networks a new one is refused.
/// </summary>
internal sealed class IpRateLimit(double perSecond, int burst, TimeProvider time)
{
    public const int MaxKeys = 100_000;
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, long> _spentUntil = [];
    private readonly long _interval = Math.Max(1, (long)(TimeSpan.TicksPerSecond / perSecond));
    private long _lastPrune;

    /// <summary>Takes a permit for the caller's network, or says how long until one is there.</summary>
    public bool TryTake(IPAddress? ip, out TimeSpan retryAfter)
    {
        var key = Network(ip);
        var now = time.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            var known = _spentUntil.TryGetValue(key, out var until);
            var next = (known ? Math.Max(until, now) : now) + _interval;
            var earliest = next - (burst * _interval);
            if (earliest > now)
            {
                retryAfter = TimeSpan.FromTicks(earliest - now);
                return false;
            }
            if (!known && _spentUntil.Count >= MaxKeys && !Prune(now))
            {
                retryAfter = TimeSpan.FromSeconds(1);
                return false;
            }
            _spentUntil[key] = next;
            retryAfter = TimeSpan.Zero;
            return true;
        }
    }

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
        return _spentUntil.Count < MaxKeys;
    }

    private static UInt128 Network(IPAddress? ip)
    {
        if (ip is null)
        {
            return UInt128.Zero;
        }
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            ip.TryWriteBytes(bytes[12..], out _);
            bytes[0] = 4; // apart from any IPv6 network
        }
        else
        {
            ip.TryWriteBytes(bytes, out _);
            bytes[8..].Clear(); // the /64
        }
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
