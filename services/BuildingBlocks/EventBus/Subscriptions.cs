using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

/// <summary>Handles one event type. Make the effect through <see cref="EventContext.Connection"/> and its transaction.</summary>
public interface IHandleEvent<in TEvent>
    where TEvent : IMessage<TEvent>
{
    Task HandleAsync(TEvent message, EventContext context, CancellationToken cancellationToken);
}

/// <summary>
/// The delivered CloudEvent and the open transaction that already holds its inbox row: whatever the handler
/// writes through it commits with that row, so a redelivery finds the row and changes nothing.
/// </summary>
public sealed record EventContext(CloudEvent CloudEvent, NpgsqlConnection Connection, NpgsqlTransaction Transaction, int Attempt);

/// <summary>One <c>AddSubscription</c> call: the topic, how to read its payload and which handler runs.</summary>
public sealed class Subscription
{
    internal Subscription(string topic, Type eventType, Func<CloudEvent, IMessage> parse,
        Func<IServiceProvider, IMessage, EventContext, CancellationToken, Task> handle)
    {
        (Topic, EventType, Parse, Handle) = (topic, eventType, parse, handle);
    }

    public string Topic { get; }

    public Type EventType { get; }

    internal Func<CloudEvent, IMessage> Parse { get; }

    internal Func<IServiceProvider, IMessage, EventContext, CancellationToken, Task> Handle { get; }
}

internal enum Outcome
{
    Handled,
    Duplicate,

    /// <summary>Unreadable: retrying cannot help.</summary>
    Rejected,

    /// <summary>The handler kept failing through every attempt.</summary>
    Failed,
}

/// <summary>
/// Runs a delivery through the inbox and its handler, with bounded retries; the transports (RabbitMQ consumer,
/// Dapr delivery route) turn the outcome into ack/nack or SUCCESS/RETRY/DROP.
/// </summary>
internal sealed partial class EventProcessor(
    IServiceProvider services,
    EventBusDataSource dataSource,
    IOptions<ServiceOptions> service,
    IOptions<EventBusOptions> options,
    EventBusMetrics metrics,
    ServiceTelemetry telemetry,
    ILogger<EventProcessor> logger)
{
    private const string InsertInbox = "INSERT INTO eventbus_inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    private const string InsertInboxBatch =
        "INSERT INTO eventbus_inbox (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id";

    private readonly RetryPolicy _retry = options.Value.RetryPolicy;

    public string AppId { get; } = service.Value.Name;

    /// <summary>Handles one delivery with bounded retries; failedAttempts are attempts already made (in a batch) that count against the limit.</summary>
    public async Task<Outcome> ProcessAsync(Subscription subscription, ReadOnlyMemory<byte> body, CancellationToken cancellationToken, int failedAttempts = 0)
    {
        var consumer = EventNames.Queue(AppId, subscription.Topic);
        var topicTag = new KeyValuePair<string, object?>("topic", subscription.Topic);
        CloudEvent cloudEvent;
        IMessage message;
        try
        {
            cloudEvent = CloudEvent.Parse(body.Span);
            message = subscription.Parse(cloudEvent);
        }
        catch (Exception exception) when (exception is JsonException or FormatException or InvalidProtocolBufferException)
        {
            LogUnreadable(exception, consumer);
            metrics.DeadLettered.Add(1, topicTag);
            return Outcome.Rejected;
        }

        var parent = ActivityContext.TryParse(cloudEvent.TraceParent, cloudEvent.TraceState, out var context) ? context : default;
        using var activity = telemetry.ActivitySource.StartActivity($"{subscription.Topic} process", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.message.id", cloudEvent.Id);

        if (failedAttempts > 0)
        {
            if (!_retry.ShouldRetry(failedAttempts))
            {
                LogGaveUp(null, consumer, cloudEvent.Id, failedAttempts);
                metrics.DeadLettered.Add(1, topicTag);
                return Outcome.Failed;
            }

            await Task.Delay(_retry.DelayAfter(failedAttempts, Random.Shared.NextDouble()), cancellationToken);
        }

        var attempt = failedAttempts;
        var outage = 0;
        while (true)
        {
            attempt++;
            try
            {
                var handled = await HandleOnceAsync(subscription, consumer, cloudEvent, message, attempt, cancellationToken);
                metrics.Handled.Add(1, topicTag);
                if (handled && cloudEvent.Time is { } time)
                {
                    metrics.DeliveryLatency.Record((DateTimeOffset.UtcNow - time).TotalMilliseconds, topicTag);
                }

                return handled ? Outcome.Handled : Outcome.Duplicate;
            }
            catch (NpgsqlException exception) when (exception.IsTransient && !cancellationToken.IsCancellationRequested)
            {
                // The database is unreachable or busy: not the event's fault, so this does not use up its attempts.
                attempt--;
                outage++;
                LogDatabaseUnavailable(exception, consumer);
                await Task.Delay(_retry.DelayAfter(Math.Min(outage, 10), Random.Shared.NextDouble()), cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                metrics.HandlerFailures.Add(1, topicTag);
                if (!_retry.ShouldRetry(attempt))
                {
                    LogGaveUp(exception, consumer, cloudEvent.Id, attempt);
                    metrics.DeadLettered.Add(1, topicTag);
                    activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                    return Outcome.Failed;
                }

                LogRetrying(exception, consumer, cloudEvent.Id, attempt);
                await Task.Delay(_retry.DelayAfter(attempt, Random.Shared.NextDouble()), cancellationToken);
            }
        }
    }

    /// <summary>
    /// Handles several deliveries in one transaction (one commit instead of one each, which is what bounds a
    /// subscriber on a durable database). If any handler throws, that transaction rolls back and each delivery
    /// goes through <see cref="ProcessAsync"/> on its own, so one failing event never holds back the others.
    /// </summary>
    public async Task<Outcome[]> ProcessBatchAsync(Subscription subscription, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken)
    {
        if (bodies.Count == 1)
        {
            return [await ProcessAsync(subscription, bodies[0], cancellationToken)];
        }

        var consumer = EventNames.Queue(AppId, subscription.Topic);
        var topicTag = new KeyValuePair<string, object?>("topic", subscription.Topic);
        var outcomes = new Outcome[bodies.Count];
        var readable = new List<(int Index, CloudEvent CloudEvent, IMessage Message)>(bodies.Count);
        for (var i = 0; i < bodies.Count; i++)
        {
            try
            {
                var cloudEvent = CloudEvent.Parse(bodies[i].Span);
                readable.Add((i, cloudEvent, subscription.Parse(cloudEvent)));
            }
            catch (Exception exception) when (exception is JsonException or FormatException or InvalidProtocolBufferException)
            {
                LogUnreadable(exception, consumer);
                metrics.DeadLettered.Add(1, topicTag);
                outcomes[i] = Outcome.Rejected;
            }
        }

        var current = -1; // The delivery whose handler runs: if it throws, that was its first attempt.
        try
        {
            await using var connection = await dataSource.Value.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var fresh = await InsertInboxAsync(connection, transaction, consumer, readable.Select(r => r.CloudEvent.Id).ToArray(), cancellationToken);
            foreach (var (index, cloudEvent, message) in readable)
            {
                if (!fresh.Remove(cloudEvent.Id)) // Removed, so that a copy of the event later in this batch is a duplicate too.
                {
                    outcomes[index] = Outcome.Duplicate;
                    continue;
                }

                current = index;
                await using var scope = services.CreateAsyncScope();
                await subscription.Handle(scope.ServiceProvider, message, new EventContext(cloudEvent, connection, transaction, 1), cancellationToken);
                outcomes[index] = Outcome.Handled;
            }

            current = -1;
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            LogBatchFailed(exception, consumer, readable.Count);
            if (current >= 0)
            {
                metrics.HandlerFailures.Add(1, topicTag);
            }

            foreach (var (index, _, _) in readable)
            {
                outcomes[index] = await ProcessAsync(subscription, bodies[index], cancellationToken, failedAttempts: index == current ? 1 : 0);
            }

            return outcomes;
        }

        metrics.Handled.Add(readable.Count, topicTag);
        var now = DateTimeOffset.UtcNow;
        foreach (var (index, cloudEvent, _) in readable)
        {
            if (outcomes[index] == Outcome.Handled && cloudEvent.Time is { } time)
            {
                metrics.DeliveryLatency.Record((now - time).TotalMilliseconds, topicTag);
            }
        }

        return outcomes;
    }

    /// <summary>Returns false when the inbox already holds the event: a redelivery, acknowledged without effect.</summary>
    private async Task<bool> HandleOnceAsync(Subscription subscription, string consumer, CloudEvent cloudEvent, IMessage message, int attempt,
        CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        await using var connection = await dataSource.Value.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await InboxAndHandleAsync(scope.ServiceProvider, subscription, consumer, cloudEvent, message, attempt, connection, transaction, cancellationToken))
        {
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Records the events in the inbox in one statement; returns the ids it did not hold yet.</summary>
    private static async Task<HashSet<string>> InsertInboxAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string consumer, string[] eventIds,
        CancellationToken cancellationToken)
    {
        await using var inbox = new NpgsqlCommand(InsertInboxBatch, connection, transaction);
        inbox.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        inbox.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = eventIds });
        var fresh = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await inbox.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            fresh.Add(reader.GetString(0));
        }

        return fresh;
    }

    /// <summary>Records the event in the inbox and runs the handler, in the caller's transaction; false if the inbox had it already.</summary>
    private static async Task<bool> InboxAndHandleAsync(IServiceProvider scope, Subscription subscription, string consumer, CloudEvent cloudEvent,
        IMessage message, int attempt, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using (var inbox = new NpgsqlCommand(InsertInbox, connection, transaction))
        {
            inbox.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
            inbox.Parameters.Add(new NpgsqlParameter<string> { TypedValue = cloudEvent.Id });
            if (await inbox.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await subscription.Handle(scope, message, new EventContext(cloudEvent, connection, transaction, attempt), cancellationToken);
        return true;
    }

    [LoggerMessage(LogLevel.Warning, "{Consumer} cannot reach its database; retrying without counting an attempt.")]
    private partial void LogDatabaseUnavailable(Exception exception, string consumer);

    [LoggerMessage(LogLevel.Information, "A batch of {Count} on {Consumer} failed; handling its events one by one.")]
    private partial void LogBatchFailed(Exception exception, string consumer, int count);

    [LoggerMessage(LogLevel.Error, "Dropping an unreadable message on {Consumer}.")]
    private partial void LogUnreadable(Exception exception, string consumer);

    [LoggerMessage(LogLevel.Warning, "{Consumer} failed on event {EventId} (attempt {Attempt}); retrying.")]
    private partial void LogRetrying(Exception exception, string consumer, string eventId, int attempt);

    [LoggerMessage(LogLevel.Error, "{Consumer} failed on event {EventId} {Attempt} times; dead-lettering it.")]
    private partial void LogGaveUp(Exception? exception, string consumer, string eventId, int attempt);
}

/// <summary>The data source for the outbox and inbox, from EventBus:Database.</summary>
internal sealed class EventBusDataSource(IOptions<EventBusOptions> options) : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() =>
    {
        var connection = new NpgsqlConnectionStringBuilder(options.Value.Database);
        if (connection.MaxAutoPrepare == 0)
        {
            // The inbox, outbox and handler statements repeat for every event: let PostgreSQL plan them once per connection.
            connection.MaxAutoPrepare = 32;
        }

        return NpgsqlDataSource.Create(connection.ConnectionString);
    });

    public NpgsqlDataSource Value => _dataSource.Value;

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync();
        }
    }
}
