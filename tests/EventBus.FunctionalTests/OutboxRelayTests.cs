using Microsoft.Extensions.DependencyInjection;
using System.Collections.Concurrent;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Transformation.Samples.V1;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

public sealed class OutboxRelayTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task TwoRelayingInstancesPublishEveryCommittedEventOnceInOrderPerAggregate()
    {
        var ct = TestContext.Current.CancellationToken;
        const int events = 5_000;
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await RabbitMqTopology.DeclareSubscriptionAsync(channel, Samples.Topic, "observer-sample-recorded", ct);

        // Written while no relay runs (as before a restart), plus a rolled-back transaction that must never be published.
        var writerSettings = new Dictionary<string, string?>(Samples.Settings("producer", database.ConnectionString, vhost.AmqpUri), StringComparer.Ordinal)
        {
            ["Subscribe"] = "false",
            ["EventBus:RelayEnabled"] = "false",
        };
        using var writer = await Samples.StartAsync(writerSettings, ct);
        await Samples.EnqueueAsync(writer, database.ConnectionString, events, aggregates: 10, ct);
        await using (var db = new NpgsqlConnection(database.ConnectionString))
        {
            await db.OpenAsync(ct);
            await using var transaction = await db.BeginTransactionAsync(ct);
            await writer.Services.GetRequiredService<Outbox>().EnqueueAsync(db, transaction, "aggregate-0",
                new SampleRecorded { AggregateId = "aggregate-0", Number = -1 }, ct);
            await transaction.RollbackAsync(ct);
        }

        var received = new ConcurrentQueue<(CloudEvent Envelope, SampleRecorded Message, IReadOnlyBasicProperties Properties)>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var envelope = CloudEvent.Parse(delivery.Body.Span);
            received.Enqueue((envelope, envelope.DataAs(SampleRecorded.Parser), delivery.BasicProperties));
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, ct);
        };
        await channel.BasicConsumeAsync("observer-sample-recorded", autoAck: false, consumer, ct);

        var relaySettings = new Dictionary<string, string?>(writerSettings, StringComparer.Ordinal) { ["EventBus:RelayEnabled"] = "true", ["EventBus:RelayBatchSize"] = "100" };
        using var first = await Samples.StartAsync(relaySettings, ct);
        using var second = await Samples.StartAsync(relaySettings, ct);
        await Samples.EventuallyAsync(async () => await Samples.UnsentAsync(database.ConnectionString, ct) == 0 && received.Count >= events,
            TimeSpan.FromMinutes(1), "every event relayed", ct);
        await first.StopAsync(ct);
        await second.StopAsync(ct);

        var all = received.ToList();
        all.Count.ShouldBe(events);
        all.Select(r => r.Message.Number).Order().ShouldBe(Enumerable.Range(1, events).Select(n => (long)n));
        foreach (var aggregate in all.GroupBy(r => r.Envelope.Subject))
        {
            aggregate.Select(r => r.Message.Number).ShouldBeInOrder(SortDirection.Ascending, $"events of {aggregate.Key} out of order");
        }

        var (envelope, message, properties) = all[0];
        envelope.Type.ShouldBe("transformation.samples.sample-recorded.v1");
        envelope.Source.ShouldBe("producer");
        envelope.Subject.ShouldBe(message.AggregateId);
        (envelope.Topic, envelope.PubSubName, envelope.DataContentType).ShouldBe((Samples.Topic, "pubsub", "application/json"));
        properties.Persistent.ShouldBeTrue();
        properties.MessageId.ShouldBe(envelope.Id);
    }

    [Fact]
    public async Task WithoutASentRetentionTheRelayDeletesTheRowsItPublished()
    {
        var ct = TestContext.Current.CancellationToken;
        const int events = 200;
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await RabbitMqTopology.DeclareSubscriptionAsync(channel, Samples.Topic, "deleting-observer-sample-recorded", ct);
        var settings = new Dictionary<string, string?>(Samples.Settings("deleting-producer", database.ConnectionString, vhost.AmqpUri), StringComparer.Ordinal)
        {
            ["Subscribe"] = "false",
            ["EventBus:SentRetention"] = "00:00:00",
        };
        using var relay = await Samples.StartAsync(settings, ct);
        await using (var db = new NpgsqlConnection(database.ConnectionString))
        {
            await db.OpenAsync(ct);
            await using var transaction = await db.BeginTransactionAsync(ct);
            await relay.Services.GetRequiredService<Outbox>().EnqueueAsync(db, transaction,
                Enumerable.Range(1, events).Select(n => new OutgoingEvent("deleted", new SampleRecorded { AggregateId = "deleted", Number = n })).ToList(), ct);
            await transaction.CommitAsync(ct);
        }

        // The rows go in the transaction that waited for the broker's confirms: once they are gone, every event is in the queue.
        await Samples.EventuallyAsync(async () => await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'deleted'", ct) == 0,
            TimeSpan.FromMinutes(1), "the relayed rows deleted", ct);
        await relay.StopAsync(ct);

        (await Samples.ReadyAsync(vhost.AmqpUri, "deleting-observer-sample-recorded", ct)).ShouldBe((uint)events);
    }
}
