namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>Polls a condition until it holds. The deadline only bounds a hung test; no test asserts on time.</summary>
internal static class Eventually
{
    public static async Task<T> GetAsync<T>(Func<Task<T?>> probe, string what, Func<string>? context = null, int seconds = 30)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited {seconds} s for {what}.{(context is null ? "" : "\n" + context())}");
            }
            await Task.Delay(50);
        }
    }

    public static Task TrueAsync(Func<Task<bool>> probe, string what, Func<string>? context = null, int seconds = 30) =>
        GetAsync<object>(async () => await probe() ? new object() : null, what, context, seconds);

    public static Task TrueAsync(Func<bool> probe, string what, Func<string>? context = null, int seconds = 30) =>
        TrueAsync(() => Task.FromResult(probe()), what, context, seconds);
}
