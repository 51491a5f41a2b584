using Microsoft.Extensions.Hosting;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>Stops the shared broker, so this collection runs alone, after the parallel classes.</summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class BrokerOutageCollection;

/// <summary>Acceptance 1: 100,000 events with the broker stopped for 20 seconds in the middle; every subscriber ends with exactly 100,000 effects.</summary>
[Collection(typeof(BrokerOutageCollection))]
public sealed class BrokerOutageTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    private const int Events = 100_000;

    [Fact]
    public async Task EveryEventReachesEverySubscriberOnceAcrossABrokerOutage()
    {
        var ct = TestContext.Current.CancellationToken;
        string[] consumers = ["alpha", "beta"];
        var subscribers = new List<IHost>();
        foreach (var consumer in consumers)
        {
            subscribers.Add(await Samples.StartAsync(Samples.Settings(consumer, database.ConnectionString, vhost.AmqpUri), ct));
        }

        var publisherSettings = new Dictionary<string, string?>(Samples.Settings("producer", database.ConnectionString, vhost.AmqpUri), StringComparer.Ordinal)
        {
            ["Subscribe"] = "false",
            ["EventBus:RelayBatchSize"] = "1000",
        };
        using var publisher = await Samples.StartAsync(publisherSettings, ct);
        var writing = Samples.EnqueueAsync(publisher, database.ConnectionString, Events, aggregates: 100, ct);

        // Stop the broker once the stream is well under way, and keep writing while it is down.
        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "alpha", ct) >= Events / 4,
            TimeSpan.FromMinutes(2), "a quarter of the events handled", ct);
        await vhost.Server.StopAsync();
        var handledWhenStopped = await Samples.EffectsAsync(database.ConnectionString, "alpha", ct);
        await Task.Delay(TimeSpan.FromSeconds(20), ct);
        await vhost.Server.RestartAsync(ct);

        await writing;
        foreach (var consumer in consumers)
        {
            await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, consumer, ct) >= Events,
                TimeSpan.FromMinutes(6), $"{consumer} handled every event", ct);
        }

        await Samples.EventuallyAsync(async () => await Samples.UnsentAsync(database.ConnectionString, ct) == 0,
            TimeSpan.FromMinutes(1), "the outbox relayed", ct);
        await publisher.StopAsync(ct);
        foreach (var subscriber in subscribers)
        {
            await subscriber.StopAsync(ct);
            subscriber.Dispose();
        }

        handledWhenStopped.ShouldBeLessThan(Events, "the outage must fall in the middle of the stream");
        foreach (var consumer in consumers)
        {
            // Nothing left that could still arrive, so the counts are final.
            (await Samples.ReadyAsync(vhost.AmqpUri, $"{consumer}-{Samples.Topic}", ct)).ShouldBe(0u);
            (await Samples.ReadyAsync(vhost.AmqpUri, $"dlq-{consumer}-{Samples.Topic}", ct)).ShouldBe(0u);
            (await Samples.EffectsAsync(database.ConnectionString, consumer, ct)).ShouldBe(Events);
            (await Samples.DistinctEffectsAsync(database.ConnectionString, consumer, ct)).ShouldBe(Events);
        }
    }
}
