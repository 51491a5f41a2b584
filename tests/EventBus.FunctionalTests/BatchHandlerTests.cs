using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>
/// <c>IHandleEventBatch</c>: the new events of a delivery batch reach the handler in one call, in the transaction that
/// holds their inbox rows; a redelivery is a no-op; a poison event is retried alone and dead-lettered while the others commit.
/// </summary>
public sealed class BatchHandlerTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task ABatchIsHandledInOneCallOnceAndARedeliveryChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = await BuildAsync("eta", ct);
        var (processor, subscription, calls) = Parts(host);
        subscription.IsBatch.ShouldBeTrue();

        // 40 events and, at the end of the same delivery batch, a second copy of one of them.
        var first = Bodies(1, 40);
        var outcomes = await processor.ProcessBatchAsync(subscription, [.. first, first[3]], ct);

        outcomes.Take(40).ShouldAllBe(o => o == Outcome.Handled);
        outcomes[40].ShouldBe(Outcome.Duplicate);
        (calls.BatchCalls, calls.LargestBatch).ShouldBe((1, 40));
        (await Samples.EffectsAsync(database.ConnectionString, "eta", ct)).ShouldBe(40);

        // Half redelivered, half new: only the new half reaches the handler.
        outcomes = await processor.ProcessBatchAsync(subscription, [.. first.Skip(20), .. Bodies(41, 20)], ct);

        outcomes.Take(20).ShouldAllBe(o => o == Outcome.Duplicate);
        outcomes.Skip(20).ShouldAllBe(o => o == Outcome.Handled);
        calls.BatchCalls.ShouldBe(2);
        (await Samples.EffectsAsync(database.ConnectionString, "eta", ct)).ShouldBe(60);

        // All redelivered: no call at all.
        outcomes = await processor.ProcessBatchAsync(subscription, first, ct);

        outcomes.ShouldAllBe(o => o == Outcome.Duplicate);
        calls.BatchCalls.ShouldBe(2);
        (await Samples.EffectsAsync(database.ConnectionString, "eta", ct)).ShouldBe(60);
        (await Samples.DistinctEffectsAsync(database.ConnectionString, "eta", ct)).ShouldBe(60);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_inbox WHERE consumer = 'eta-sample-recorded'", ct)).ShouldBe(60);
    }

    [Fact]
    public async Task APoisonEventInABatchIsRetriedAloneAndFailsWhileTheOthersCommit()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = await BuildAsync("iota", ct);
        var (processor, subscription, poison) = Parts(host);
        poison.Enabled = true;

        var outcomes = await processor.ProcessBatchAsync(subscription, Bodies(1, 30, poisonAt: 17), ct);

        outcomes[16].ShouldBe(Outcome.Failed); // Nacked without requeue by the consumer: the broker dead-letters it.
        outcomes.Where((_, i) => i != 16).ShouldAllBe(o => o == Outcome.Handled);
        poison.BatchAttempts.ShouldBe(1); // The whole batch once...
        poison.Attempts.ShouldBe(3); // ...then the poison event alone, MaxAttempts times.
        (await Samples.EffectsAsync(database.ConnectionString, "iota", ct)).ShouldBe(29);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE consumer = 'iota' AND number = 17", ct)).ShouldBe(0);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_inbox WHERE consumer = 'iota-sample-recorded'", ct)).ShouldBe(29);
    }

    [Fact]
    public async Task OverTheBrokerAPoisonEventIsDeadLetteredAfterItsRetriesTheOthersHandledOnceAndReplayedAfterTheFix()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = BatchSettings("kappa");
        using var subscriber = await Samples.StartAsync(settings, ct);
        var poison = subscriber.Services.GetRequiredService<PoisonSwitch>();
        poison.Enabled = true;
        using var publisher = await Samples.StartAsync(new(Samples.Settings("producer", database.ConnectionString, vhost.AmqpUri)) { ["Subscribe"] = "false" }, ct);

        await Samples.EnqueueAsync(publisher, database.ConnectionString, 300, aggregates: 7, ct, note: n => n == 150 ? "poison" : "");

        await Samples.EventuallyAsync(async () => await Samples.ReadyAsync(vhost.AmqpUri, "dlq-kappa-sample-recorded", ct) == 1,
            TimeSpan.FromSeconds(60), "the poison event in dlq-kappa-sample-recorded", ct);
        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "kappa", ct) == 299,
            TimeSpan.FromSeconds(60), "the 299 good events handled", ct);
        poison.Attempts.ShouldBe(3); // Alone, whether or not it first came in a batch.
        (await Samples.DistinctEffectsAsync(database.ConnectionString, "kappa", ct)).ShouldBe(299);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE consumer = 'kappa' AND number = 150", ct)).ShouldBe(0);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_inbox WHERE consumer = 'kappa-sample-recorded'", ct)).ShouldBe(299);

        poison.Enabled = false;
        (await subscriber.Services.GetRequiredService<DeadLetters>().ReplayAsync(Samples.Topic, ct)).ShouldBe(1);

        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "kappa", ct) == 300,
            TimeSpan.FromSeconds(60), "the replayed event handled", ct);
        (await Samples.DistinctEffectsAsync(database.ConnectionString, "kappa", ct)).ShouldBe(300);
        (await Samples.ReadyAsync(vhost.AmqpUri, "dlq-kappa-sample-recorded", ct)).ShouldBe(0u);
        await subscriber.StopAsync(ct);
        await publisher.StopAsync(ct);
    }

    private Dictionary<string, string?> BatchSettings(string appId)
    {
        var settings = Samples.Settings(appId, database.ConnectionString, vhost.AmqpUri);
        settings["Handler"] = "batch";
        settings["EventBus:MaxAttempts"] = "3";
        settings["EventBus:RetryBaseDelay"] = "00:00:00.020";
        return settings;
    }

    /// <summary>A batch subscriber that is built but not started (no consumer): the test hands batches to its processor itself.</summary>
    private async Task<IHost> BuildAsync(string appId, CancellationToken cancellationToken)
    {
        await SampleHost.EnsureEffectTableAsync(database.ConnectionString, cancellationToken);
        await using (var dataSource = NpgsqlDataSource.Create(database.ConnectionString))
        {
            await EventBusSchema.EnsureCreatedAsync(dataSource, cancellationToken);
        }

        return SampleHost.CreateBuilder([], BatchSettings(appId)).Build();
    }

    private static (EventProcessor Processor, Subscription Subscription, PoisonSwitch Calls) Parts(IHost host) =>
        (host.Services.GetRequiredService<EventProcessor>(), host.Services.GetServices<Subscription>().ShouldHaveSingleItem(),
            host.Services.GetRequiredService<PoisonSwitch>());

    /// <summary>The CloudEvents of SampleRecorded numbers from..from+count-1, as the broker delivers them.</summary>
    private static List<ReadOnlyMemory<byte>> Bodies(int from, int count, int poisonAt = 0) =>
        [.. Enumerable.Range(from, count).Select(n => (ReadOnlyMemory<byte>)CloudEvent.Create(
            new SampleRecorded { AggregateId = $"aggregate-{n % 5}", Number = n, Note = n == poisonAt ? "poison" : "" },
            "producer", $"aggregate-{n % 5}", "pubsub").ToUtf8Json())];
}
