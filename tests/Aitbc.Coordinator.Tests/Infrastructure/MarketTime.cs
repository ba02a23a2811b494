namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// The coordinator's clock in the tests: the system clock plus an offset that only a test moves, so
/// deadlines (payment window, accept deadline, heartbeat silence) pass without waiting for them.
/// Timers stay on real time, so the sweeper keeps sweeping twice a second and sees the moved clock.
/// Signers use this clock too, so requests stay fresh after time is moved.
/// </summary>
internal sealed class MarketTime : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public long NowMs => GetUtcNow().ToUnixTimeMilliseconds();

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
