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

/// <summary>
/// Handles the deliveries of one event type a batch at a time: all the new events of one delivery batch in one call,
/// in one transaction. Make the effect of the whole batch through <see cref="EventBatchContext.Connection"/> and its
/// transaction (a multi-row insert or a COPY, say), so that a batch costs a few round trips rather than some per event.
/// If the call throws, the batch rolls back and each of its events is handled again on its own: the same handler is
/// called with one delivery per transaction, with the usual bounded retries, so a poison event is dead-lettered alone.
/// </summary>
public interface IHandleEventBatch<TEvent>
    where TEvent : IMessage<TEvent>
{
    Task HandleAsync(IReadOnlyList<EventDelivery<TEvent>> deliveries, EventBatchContext context, CancellationToken cancellationToken);
}

/// <summary>
/// One delivered event of a batch: its payload and its CloudEvent (id, subject, time, source…). The batch holds no
/// event already in this subscriber's inbox, and no event twice.
/// </summary>
public sealed record EventDelivery<TEvent>(TEvent Message, CloudEvent CloudEvent)
    where TEvent : IMessage<TEvent>;

/// <summary>
/// The open transaction that already holds the inbox rows of every delivery of the batch: whatever the handler writes
/// through it commits with them (and the messages are acknowledged after that commit). <see cref="Attempt"/> is 1 for a
/// whole batch; when a batch failed and its events are handled one by one, it counts that event's attempts.
/// </summary>
public sealed record EventBatchContext(NpgsqlConnection Connection, NpgsqlTransaction Transaction, int Attempt);

/// <summary>One <c>AddSubscription</c> or <c>AddBatchSubscription</c> call: the topic, how to read its payload and which handler runs.</summary>
public sealed class Subscription
{
    internal Subscription(string topic, Type eventType, Func<CloudEvent, IMessage> parse,
        Func<IServiceProvider, IMessage, EventContext, CancellationToken, Task> handle)
    {
        (Topic, EventType, Parse, Handle) = (topic, eventType, parse, handle);
    }

    internal Subscription(string topic, Type eventType, Func<CloudEvent, IMessage> parse, BatchHandler handleBatch)
    {
        (Topic, EventType, Parse, HandleBatch) = (topic, eventType, parse, handleBatch);
    }

    /// <summary>Calls a batch handler with the (new, distinct) deliveries of one transaction.</summary>
    internal delegate Task BatchHandler(IServiceProvider provider, IReadOnlyList<(CloudEvent CloudEvent, IMessage Message)> deliveries,
        EventBatchContext context, CancellationToken cancellationToken);

    public string Topic { get; }

    public Type EventType { get; }

    /// <summary>Whether its handler takes a delivery batch at a time (<see cref="IHandleEventBatch{TEvent}"/>).</summary>
    public bool IsBatch => HandleBatch is not null;

    internal Func<CloudEvent, IMessage> Parse { get; }

    /// <summary>The per-event handler (<see cref="IHandleEvent{TEvent}"/>); null for a batch subscription.</summary>
    internal Func<IServiceProvider, IMessage, EventContext, CancellationToken, Task>? Handle { get; }

    /// <summary>The batch handler (<see cref="IHandleEventBatch{TEvent}"/>); null for a per-event subscription.</summary>
    internal BatchHandler? HandleBatch { get; }
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
    TransientFailures transientFailures,
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
            catch (Exception exception) when ((exception is NpgsqlException { IsTransient: true } || transientFailures.Matches(exception))
                && !cancellationToken.IsCancellationRequested)
            {
                // The database or a silo of the cluster is unreachable or busy: not the event's fault, so this does not use up its attempts.
                attempt--;
                outage++;
                LogDependencyUnavailable(exception, consumer);
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
    /// subscriber on a durable database): the inbox rows in one statement, then a per-event handler once per new
    /// event, or a batch handler once with all the new events. If a handler throws, that transaction rolls back and
    /// each delivery goes through <see cref="ProcessAsync"/> on its own (a batch handler then gets one delivery per
    /// call), so one failing event never holds back the others.
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
        var batchFailed = false; // Whether a batch handler's call threw (then no one delivery is to blame).
        try
        {
            await using var connection = await dataSource.Value.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var fresh = await InsertInboxAsync(connection, transaction, consumer, readable.Select(r => r.CloudEvent.Id).ToArray(), cancellationToken);
            var batch = new List<(CloudEvent CloudEvent, IMessage Message)>(fresh.Count);
            foreach (var (index, cloudEvent, message) in readable)
            {
                if (!fresh.Remove(cloudEvent.Id)) // Removed, so that a copy of the event later in this batch is a duplicate too.
                {
                    outcomes[index] = Outcome.Duplicate;
                    continue;
                }

                if (subscription.HandleBatch is not null)
                {
                    batch.Add((cloudEvent, message));
                    outcomes[index] = Outcome.Handled; // Once committed.
                    continue;
                }

                current = index;
                await using var scope = services.CreateAsyncScope();
                await subscription.Handle!(scope.ServiceProvider, message, new EventContext(cloudEvent, connection, transaction, 1), cancellationToken);
                outcomes[index] = Outcome.Handled;
            }

            if (batch.Count > 0)
            {
                // One call for all the new events; if it throws, none of them is known to be at fault, so none loses an attempt.
                batchFailed = true;
                await using var scope = services.CreateAsyncScope();
                await subscription.HandleBatch!(scope.ServiceProvider, batch, new EventBatchContext(connection, transaction, 1), cancellationToken);
                batchFailed = false;
            }

            current = -1;
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            LogBatchFailed(exception, consumer, readable.Count);
            if (current >= 0 || batchFailed)
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

        if (subscription.HandleBatch is { } handleBatch)
        {
            await handleBatch(scope, [(cloudEvent, message)], new EventBatchContext(connection, transaction, attempt), cancellationToken);
        }
        else
        {
            await subscription.Handle!(scope, message, new EventContext(cloudEvent, connection, transaction, attempt), cancellationToken);
        }

        return true;
    }

    [LoggerMessage(LogLevel.Warning, "{Consumer} cannot reach its database or a silo of its cluster; retrying without counting an attempt.")]
    private partial void LogDependencyUnavailable(Exception exception, string consumer);

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
