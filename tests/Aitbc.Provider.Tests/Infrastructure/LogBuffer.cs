using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// Keeps the log lines of the servers a test starts (node, coordinator, provider), so that a test
/// that fails can say what the services said instead of printing them all on every run.
/// </summary>
public sealed class LogBuffer : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>For the <c>logging</c> parameter of the servers' StartAsync.</summary>
    public void AddTo(ILoggingBuilder builder)
    {
        builder.ClearProviders();
        builder.AddProvider(this);
        builder.SetMinimumLevel(LogLevel.Information);
        builder.AddFilter("Microsoft", LogLevel.Warning);
        builder.AddFilter("System", LogLevel.Warning);
    }

    public string Text => string.Join('\n', _lines.TakeLast(200));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void Dispose()
    {
    }

    private sealed class Logger(LogBuffer buffer, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            buffer._lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
    }
}
