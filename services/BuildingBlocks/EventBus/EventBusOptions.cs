using System.ComponentModel.DataAnnotations;

namespace Transformation.EventBus;

public enum EventBusMode
{
    /// <summary>Publish to and consume from RabbitMQ directly, with Dapr's topology.</summary>
    RabbitMq,

    /// <summary>
    /// Publish through the Dapr sidecar with DaprClient; the sidecar delivers to the routes <c>app.MapEventBus()</c> maps with
    /// Dapr.AspNetCore on the HTTP port.
    /// </summary>
    DaprSidecar,
}

/// <summary>The "EventBus" section.</summary>
public sealed class EventBusOptions
{
    public const string Section = "EventBus";

    public EventBusMode Mode { get; set; } = EventBusMode.RabbitMq;

    /// <summary>The service's PostgreSQL database, which holds the outbox and the inbox.</summary>
    [Required]
    public string Database { get; set; } = "";

    /// <summary>amqp://user:password@host:port/vhost; needed in RabbitMq mode and for dead-letter replay.</summary>
    public Uri? RabbitMq { get; set; }

    /// <summary>The Dapr pubsub component's name: written into every envelope, used in sidecar mode.</summary>
    [Required]
    public string PubSubName { get; set; } = "pubsub";

    /// <summary>Unacknowledged deliveries per subscription (Dapr's prefetchCount).</summary>
    [Range(1, 65535)]
    public ushort PrefetchCount { get; set; } = 256;

    /// <summary>Messages handled at once per subscription.</summary>
    [Range(1, 256)]
    public ushort Concurrency { get; set; } = 4;

    /// <summary>Deliveries already received that one handler transaction may take together (1 = one transaction each).</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 64;

    /// <summary>Attempts of a handler before its message is dead-lettered (1 = no retry).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Outbox rows published per relay transaction.</summary>
    [Range(1, 10_000)]
    public int RelayBatchSize { get; set; } = 500;

    /// <summary>How often an idle relay looks for new outbox rows.</summary>
    public TimeSpan RelayPollInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The wait before reconnecting after the broker (or the sidecar) failed.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a relay batch's publishes (with their confirms) may wait on the broker or the sidecar before the relay drops the
    /// connection and starts again. RabbitMQ.Client 7.1–7.2 can wait forever on a socket that died mid-write
    /// (rabbitmq-dotnet-client#1930, fixed after 7.2.2), so no broker call of ours waits without a bound.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long relayed outbox rows are kept (for inspection) before the relay deletes them. Zero, the default: each is deleted
    /// in the transaction that relays it (as Dapr's outbox does), which writes no new row version and keeps the relay fastest.
    /// </summary>
    public TimeSpan SentRetention { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long inbox rows are kept: a redelivery older than this would be applied again, so keep it well
    /// beyond the longest time a message can wait in a queue or dead-letter queue.
    /// </summary>
    public TimeSpan InboxRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Whether this instance relays the outbox (a read-only replica may not).</summary>
    public bool RelayEnabled { get; set; } = true;

    internal RetryPolicy RetryPolicy => new(MaxAttempts, RetryBaseDelay, RetryMaxDelay);
}

/// <summary>Bounded retries with exponential backoff, up to 20 % jitter, capped so that retries do not march in step.</summary>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay)
{
    /// <summary>Whether another attempt follows the failed attempt number <paramref name="attempt"/> (1-based).</summary>
    public bool ShouldRetry(int attempt) => attempt < MaxAttempts;

    /// <summary>The wait after the failed attempt number <paramref name="attempt"/>: base × 2^(attempt-1) plus jitter, at most MaxDelay.</summary>
    public TimeSpan DelayAfter(int attempt, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var exponential = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var jittered = exponential * (1 + (0.2 * Math.Clamp(jitter, 0, 1)));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, MaxDelay.TotalMilliseconds));
    }
}
