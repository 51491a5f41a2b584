using Dapr.Client;
using RabbitMQ.Client;

namespace Transformation.EventBus;

/// <summary>A CloudEvent ready to send, as the outbox holds it.</summary>
internal sealed record OutboxMessage(long Sequence, Guid EventId, string Topic, byte[] Envelope);

/// <summary>Where the relay sends events: the broker directly, or the Dapr sidecar.</summary>
internal interface IEventPublisher : IAsyncDisposable
{
    /// <summary>Returns once every message is confirmed, in order; throws if any is not.</summary>
    Task PublishAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken);

    /// <summary>Drops the connection after a failure, so that the next publish starts afresh.</summary>
    ValueTask ResetAsync();
}

/// <summary>Publishes persistent messages to the topic's fanout exchange and waits for the broker's confirms.</summary>
internal sealed class RabbitMqPublisher(Uri rabbitMq, string appId) : IEventPublisher
{
    private readonly HashSet<string> _declaredTopics = new(StringComparer.Ordinal);
    private IConnection? _connection;
    private IChannel? _channel;

    public async Task PublishAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken)
    {
        var channel = await ChannelAsync(cancellationToken);
        foreach (var topic in messages.Select(m => m.Topic).Distinct(StringComparer.Ordinal).Where(t => !_declaredTopics.Contains(t)))
        {
            await RabbitMqTopology.DeclareTopicAsync(channel, topic, cancellationToken);
            _declaredTopics.Add(topic);
        }

        // Publishes are pipelined: each task completes when its confirm arrives; the channel keeps them in order.
        var confirms = new List<Task>(messages.Count);
        foreach (var message in messages)
        {
            var properties = new BasicProperties
            {
                Persistent = true,
                ContentType = CloudEvent.MediaType,
                MessageId = message.EventId.ToString(),
            };
            confirms.Add(channel.BasicPublishAsync(message.Topic, "", mandatory: false, properties, message.Envelope, cancellationToken).AsTask());
        }

        await Task.WhenAll(confirms);
    }

    public async ValueTask ResetAsync()
    {
        _declaredTopics.Clear();
        var (channel, connection) = (_channel, _connection);
        (_channel, _connection) = (null, null);
        await RabbitMqConnections.CloseQuietlyAsync(channel, connection);
    }

    public ValueTask DisposeAsync() => ResetAsync();

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
        {
            return _channel;
        }

        await ResetAsync();
        _connection = await RabbitMqConnections.ConnectAsync(rabbitMq, $"{appId}-outbox-relay", cancellationToken);
        _channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null), cancellationToken);
        return _channel;
    }
}

/// <summary>
/// Publishes through the sidecar with <see cref="DaprClient"/> (its gRPC PublishEvent), each stored CloudEvent handed over as it
/// is: with the content type application/cloudevents+json the sidecar keeps its fields (id, source, type, subject, trace
/// context) and adds topic and pubsubname, so that subscribers' inboxes see our envelope's id.
/// </summary>
internal sealed class DaprSidecarPublisher(DaprClient dapr, string pubSubName) : IEventPublisher
{
    public async Task PublishAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken)
    {
        // One at a time: the sidecar answers each publish only after the broker confirmed it, and order per aggregate matters.
        foreach (var message in messages)
        {
            await dapr.PublishByteEventAsync(pubSubName, message.Topic, message.Envelope, CloudEvent.MediaType, cancellationToken: cancellationToken);
        }
    }

    public ValueTask ResetAsync() => ValueTask.CompletedTask;

    // The DaprClient belongs to the container, which disposes of it.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
