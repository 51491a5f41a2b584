using RabbitMQ.Client;

namespace Transformation.EventBus;

/// <summary>
/// Declares exactly what Dapr's pubsub.rabbitmq declares with durable=true, deletedWhenUnused=false,
/// enableDeadLetter=true (k8s/base/dapr/pubsub.yaml), so that either side may declare first without a
/// PRECONDITION_FAILED.
/// </summary>
public static class RabbitMqTopology
{
    /// <summary>The topic's exchange: named as the topic, fanout, durable, not auto-deleted, no arguments.</summary>
    public static Task DeclareTopicAsync(IChannel channel, string topic, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return channel.ExchangeDeclareAsync(topic, ExchangeType.Fanout, durable: true, autoDelete: false, arguments: null, cancellationToken: cancellationToken);
    }

    /// <summary>The arguments of a consuming app's queue.</summary>
    public static Dictionary<string, object?> QueueArguments(string queue) => new(StringComparer.Ordinal)
    {
        ["x-queue-type"] = "classic",
        ["x-dead-letter-exchange"] = EventNames.DeadLetterExchange(queue),
    };

    /// <summary>The arguments of the dead-letter queue.</summary>
    public static Dictionary<string, object?> DeadLetterQueueArguments() => new(StringComparer.Ordinal) { ["x-queue-mode"] = "lazy" };

    /// <summary>The topic exchange, the queue <c>&lt;app-id&gt;-&lt;topic&gt;</c> bound to it, and its dlx-/dlq- pair.</summary>
    public static async Task DeclareSubscriptionAsync(IChannel channel, string topic, string queue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        await DeclareTopicAsync(channel, topic, cancellationToken);

        var deadLetterExchange = EventNames.DeadLetterExchange(queue);
        var deadLetterQueue = EventNames.DeadLetterQueue(queue);
        await channel.ExchangeDeclareAsync(deadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, arguments: null, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(deadLetterQueue, durable: true, exclusive: false, autoDelete: false, DeadLetterQueueArguments(), cancellationToken: cancellationToken);
        await channel.QueueBindAsync(deadLetterQueue, deadLetterExchange, "", cancellationToken: cancellationToken);

        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, QueueArguments(queue), cancellationToken: cancellationToken);
        await channel.QueueBindAsync(queue, topic, "", cancellationToken: cancellationToken);
    }
}

internal static class RabbitMqConnections
{
    /// <summary>A connection without the client's automatic recovery: our loops reconnect and redeclare themselves.</summary>
    public static Task<IConnection> ConnectAsync(Uri uri, string name, CancellationToken cancellationToken) =>
        new ConnectionFactory
        {
            Uri = uri,
            ClientProvidedName = name,
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
        }.CreateConnectionAsync(cancellationToken);

    public static async ValueTask CloseQuietlyAsync(IChannel? channel, IConnection? connection)
    {
        // After a broker failure closing may throw; the objects are being dropped either way.
        try
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }
        }
        catch (Exception)
        {
        }

        try
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
        catch (Exception)
        {
        }
    }
}
