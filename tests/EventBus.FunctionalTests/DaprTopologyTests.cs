using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>Acceptance 4, and Dapr-published messages: our services and Dapr-run ones share one broker.</summary>
public sealed class DaprTopologyTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    /// <summary>What Dapr's pubsub.rabbitmq declares for k8s/base/dapr/pubsub.yaml (durable, deletedWhenUnused=false, enableDeadLetter).</summary>
    private static async Task DeclareAsDaprAsync(IChannel channel, string topic, string queue, bool autoDelete = false)
    {
        var ct = TestContext.Current.CancellationToken;
        await channel.ExchangeDeclareAsync(topic, "fanout", durable: true, autoDelete: autoDelete, arguments: null, cancellationToken: ct);
        await channel.ExchangeDeclareAsync($"dlx-{queue}", "fanout", durable: true, autoDelete: autoDelete, arguments: null, cancellationToken: ct);
        await channel.QueueDeclareAsync($"dlq-{queue}", durable: true, exclusive: false, autoDelete: autoDelete,
            new Dictionary<string, object?> { ["x-queue-mode"] = "lazy" }, cancellationToken: ct);
        await channel.QueueBindAsync($"dlq-{queue}", $"dlx-{queue}", "", cancellationToken: ct);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: autoDelete,
            new Dictionary<string, object?> { ["x-queue-type"] = "classic", ["x-dead-letter-exchange"] = $"dlx-{queue}" }, cancellationToken: ct);
        await channel.QueueBindAsync(queue, topic, "", cancellationToken: ct);
    }

    [Fact]
    public async Task DaprDeclaringAfterUsSucceedsAndADifferentDeclarationIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        using var subscriber = await Samples.StartAsync(Samples.Settings("zeta", database.ConnectionString, vhost.AmqpUri), ct);
        await Samples.EventuallyAsync(async () => (await vhost.Server.QueuesAsync(vhost.Name, ct)).Any(q => string.Equals(q.Name, "zeta-sample-recorded", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "zeta's queue declared", ct);

        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: ct))
        {
            await DeclareAsDaprAsync(channel, Samples.Topic, "zeta-sample-recorded");
        }

        var queues = await vhost.Server.QueuesAsync(vhost.Name, ct);
        var queue = queues.Single(q => string.Equals(q.Name, "zeta-sample-recorded", StringComparison.Ordinal));
        (queue.Durable, queue.AutoDelete).ShouldBe((true, false));
        queue.Arguments["x-queue-type"].ToString().ShouldBe("classic");
        queue.Arguments["x-dead-letter-exchange"].ToString().ShouldBe("dlx-zeta-sample-recorded");
        queues.Single(q => string.Equals(q.Name, "dlq-zeta-sample-recorded", StringComparison.Ordinal)).Durable.ShouldBeTrue();

        // The control: Dapr's default deletedWhenUnused=true would not match our topology.
        await using var mismatched = await connection.CreateChannelAsync(cancellationToken: ct);
        var refused = await Should.ThrowAsync<OperationInterruptedException>(() => DeclareAsDaprAsync(mismatched, Samples.Topic, "zeta-sample-recorded", autoDelete: true));
        refused.ShutdownReason!.ReplyCode.ShouldBe((ushort)406); // PRECONDITION_FAILED
        await subscriber.StopAsync(ct);
    }

    [Fact]
    public async Task WeStartOnDaprsTopologyAndHandleWhatADaprSidecarPublished()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await DeclareAsDaprAsync(channel, Samples.Topic, "eta-sample-recorded");

        using var subscriber = await Samples.StartAsync(Samples.Settings("eta", database.ConnectionString, vhost.AmqpUri), ct);

        // As Dapr's component publishes: content type text/plain, transient, no headers, Dapr's own envelope.
        // The first from an app that published application/json (data is the JSON value), the second text/plain (data is a string).
        string[] bodies =
        [
            """{"id":"6b0e5f0a-dapr-1","source":"orders","type":"com.dapr.event.sent","specversion":"1.0","datacontenttype":"application/json","data":{"aggregateId":"dapr-a","number":"7001"},"topic":"sample-recorded","pubsubname":"pubsub","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","time":"2026-11-22T10:15:42+01:00"}""",
            """{"id":"6b0e5f0a-dapr-2","source":"orders","type":"com.dapr.event.sent","specversion":"1.0","datacontenttype":"text/plain","data":"{\"aggregateId\":\"dapr-b\",\"number\":\"7002\"}","topic":"sample-recorded","pubsubname":"pubsub","traceid":"","traceparent":"","tracestate":"","time":"2026-11-22T10:15:43+01:00"}""",
        ];
        foreach (var body in bodies)
        {
            await channel.BasicPublishAsync(Samples.Topic, "", mandatory: false, new BasicProperties { ContentType = "text/plain" }, Encoding.UTF8.GetBytes(body), ct);
        }

        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "eta", ct) == 2,
            TimeSpan.FromSeconds(30), "both Dapr-published events handled", ct);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT sum(number) FROM sample_effects WHERE consumer = 'eta'", ct)).ShouldBe(14003);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_inbox WHERE consumer = 'eta-sample-recorded' AND event_id LIKE '6b0e5f0a-dapr-%'", ct))
            .ShouldBe(2);
        await subscriber.StopAsync(ct);
    }
}
