using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Transformation.Cli.FunctionalTests;

/// <summary>Keeps the errors the hosted services log, to name them when the demo load fails (the client only sees "Exception was thrown by handler").</summary>
internal sealed class ServiceErrors : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _errors = new();

    public IReadOnlyCollection<string> All => _errors;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ServiceErrors errors, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                errors._errors.Enqueue($"{category}: {formatter(state, exception)} {exception}");
            }
        }
    }
}
