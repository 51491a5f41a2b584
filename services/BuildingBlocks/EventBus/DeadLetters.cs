using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

/// <summary>
/// The operator's view of this service's dead letters: how many wait in each dlq-&lt;queue&gt;, and re-publishing
/// them to their queue once the handler is fixed (<c>dotnet &lt;service&gt;.dll eventbus replay-dead-letters [topic…]</c>).
/// </summary>
public sealed partial class DeadLetters(
    IEnumerable<Subscription> subscriptions,
    IOptions<ServiceOptions> service,
    IOptions<EventBusOptions> options,
    EventBusMetrics metrics,
    ILogger<DeadLetters> logger)
{
    private readonly string _appId = service.Value.Name;

    /// <summary>The topics this service subscribes to.</summary>
    public IReadOnlyList<string> Topics { get; } = subscriptions.Select(s => s.Topic).ToList();

    /// <summary>Dead-lettered messages waiting, per subscribed topic.</summary>
    public async Task<IReadOnlyDictionary<string, uint>> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var counts = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var topic in Topics)
        {
            var queue = EventNames.Queue(_appId, topic);
            counts[topic] = (await channel.QueueDeclarePassiveAsync(EventNames.DeadLetterQueue(queue), cancellationToken)).MessageCount;
        }

        return counts;
    }

    /// <summary>
    /// Moves what dlq-&lt;app-id&gt;-&lt;topic&gt; holds now back to &lt;app-id&gt;-&lt;topic&gt; (only this service sees it again),
    /// each message confirmed before it leaves the dead-letter queue; returns how many moved. Messages that fail
    /// again come back to the dead-letter queue and are not replayed twice in one call.
    /// </summary>
    public async Task<int> ReplayAsync(string topic, CancellationToken cancellationToken = default)
    {
        var queue = EventNames.Queue(_appId, topic);
        var deadLetterQueue = EventNames.DeadLetterQueue(queue);
        await using var connection = await ConnectAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var waiting = (await channel.QueueDeclarePassiveAsync(deadLetterQueue, cancellationToken)).MessageCount;
        var replayed = 0;
        for (; replayed < waiting; replayed++)
        {
            var message = await channel.BasicGetAsync(deadLetterQueue, autoAck: false, cancellationToken);
            if (message is null)
            {
                break;
            }

            var properties = new BasicProperties(message.BasicProperties) { Headers = null }; // Drop x-death: it is a new attempt.
            await channel.BasicPublishAsync("", queue, mandatory: true, properties, message.Body, cancellationToken);
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken);
        }

        metrics.Replayed.Add(replayed, new KeyValuePair<string, object?>("topic", topic));
        LogReplayed(replayed, deadLetterQueue, queue);
        return replayed;
    }

    private Task<IConnection> ConnectAsync(CancellationToken cancellationToken) =>
        RabbitMqConnections.ConnectAsync(
            options.Value.RabbitMq ?? throw new InvalidOperationException("EventBus:RabbitMq is required to reach the dead-letter queues."),
            $"{_appId}-dead-letters", cancellationToken);

    [LoggerMessage(LogLevel.Information, "Replayed {Count} dead-lettered messages from {DeadLetterQueue} to {Queue}.")]
    private partial void LogReplayed(int count, string deadLetterQueue, string queue);
}
