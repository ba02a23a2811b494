using System.Globalization;

namespace Aitbc.Cli.Interaction;

internal static class Time
{
    /// <summary>Unix milliseconds as a UTC time people read.</summary>
    public static string Format(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
