using Google.Protobuf;
using RabbitMQ.Client;
using Transformation.EventBus;

namespace Transformation.TestSupport;

/// <summary>Publishes events as their producers do, for tests of a consumer: a CloudEvent on the topic's fanout exchange, persistent, confirmed.</summary>
public static class TestEvents
{
    public static Task PublishAsync(Uri amqpUri, IEnumerable<IMessage> events, CancellationToken cancellationToken) =>
        PublishAsync(amqpUri, events.Select(message =>
            CloudEvent.Create(message, message.Descriptor.File.Package.Split('.')[1], "subject", "pubsub", Guid.NewGuid())), cancellationToken);

    /// <summary>Publishes these CloudEvents as they are (a test may send one twice, as a redelivering broker would).</summary>
    public static async Task PublishAsync(Uri amqpUri, IEnumerable<CloudEvent> cloudEvents, CancellationToken cancellationToken)
    {
        var list = cloudEvents.ToList();
        var factory = new ConnectionFactory { Uri = amqpUri };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await ExchangesExistAsync(connection, list.Select(e => e.Topic!).Distinct(StringComparer.Ordinal), cancellationToken);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        foreach (var cloudEvent in list)
        {
            await channel.BasicPublishAsync(cloudEvent.Topic!, "", mandatory: false,
                new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType }, cloudEvent.ToUtf8Json(), cancellationToken);
        }
    }

    /// <summary>The consumer declares its topology as it starts: wait for the topics' exchanges (a passive declare fails its channel).</summary>
    private static async Task ExchangesExistAsync(IConnection connection, IEnumerable<string> topics, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var topic in topics)
        {
            while (true)
            {
                try
                {
                    await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
                    await channel.ExchangeDeclarePassiveAsync(topic, cancellationToken);
                    break;
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }
    }
}
