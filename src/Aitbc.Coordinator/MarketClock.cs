namespace Aitbc.Coordinator;

/// <summary>The market's clock (Unix ms), a seam so tests can move time.</summary>
public sealed class MarketClock(TimeProvider time)
{
    public TimeProvider Time => time;

    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();
}
