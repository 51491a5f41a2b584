using Microsoft.Extensions.DependencyInjection;
using Transformation.EventBus.TestHost;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>Acceptance 3: a handler that always throws dead-letters its event after the retries; the rest flows; replay delivers it after the fix.</summary>
public sealed class DeadLetterTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task AFailingEventIsDeadLetteredAfterItsRetriesAndReplayedAfterTheFix()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = Samples.Settings("gamma", database.ConnectionString, vhost.AmqpUri);
        settings["EventBus:MaxAttempts"] = "3";
        settings["EventBus:RetryBaseDelay"] = "00:00:00.050";
        using var subscriber = await Samples.StartAsync(settings, ct);
        var poison = subscriber.Services.GetRequiredService<PoisonSwitch>();
        poison.Enabled = true;
        using var publisher = await Samples.StartAsync(new(Samples.Settings("producer", database.ConnectionString, vhost.AmqpUri)) { ["Subscribe"] = "false" }, ct);

        // Event 1 is poison; 2..300 are not and must not wait for it.
        await Samples.EnqueueAsync(publisher, database.ConnectionString, 300, aggregates: 7, ct, note: n => n == 1 ? "poison" : "");

        await Samples.EventuallyAsync(async () => await Samples.ReadyAsync(vhost.AmqpUri, "dlq-gamma-sample-recorded", ct) == 1,
            TimeSpan.FromSeconds(60), "the poison event in dlq-gamma-sample-recorded", ct);
        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "gamma", ct) == 299,
            TimeSpan.FromSeconds(60), "the 299 good events handled", ct);
        poison.Attempts.ShouldBe(3);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE number = 1", ct)).ShouldBe(0);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM eventbus_inbox", ct)).ShouldBe(299); // The failed attempts rolled back.

        poison.Enabled = false;
        var deadLetters = subscriber.Services.GetRequiredService<DeadLetters>();
        (await deadLetters.CountAsync(ct))[Samples.Topic].ShouldBe(1u);
        await using (var output = new StringWriter())
        {
            // The operator's entry point: `dotnet <service>.dll eventbus dead-letters`, then `eventbus replay-dead-letters`.
            (await subscriber.TryRunEventBusCommandAsync(["serve"], output, ct)).ShouldBeFalse();
            (await subscriber.TryRunEventBusCommandAsync(["eventbus", "dead-letters"], output, ct)).ShouldBeTrue();
            output.ToString().ShouldBe($"sample-recorded\t1{Environment.NewLine}");
        }

        (await deadLetters.ReplayAsync(Samples.Topic, ct)).ShouldBe(1);

        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, "gamma", ct) == 300,
            TimeSpan.FromSeconds(60), "the replayed event handled", ct);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE number = 1", ct)).ShouldBe(1);
        (await Samples.ReadyAsync(vhost.AmqpUri, "dlq-gamma-sample-recorded", ct)).ShouldBe(0u);
        (await deadLetters.ReplayAsync(Samples.Topic, ct)).ShouldBe(0);
        await subscriber.StopAsync(ct);
        await publisher.StopAsync(ct);
    }
}
