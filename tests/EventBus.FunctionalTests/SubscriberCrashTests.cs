using System.Diagnostics;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>Acceptance 2: a subscriber process killed without shutdown mid-stream and restarted loses nothing and doubles nothing.</summary>
public sealed class SubscriberCrashTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    private const int Events = 20_000;

    /// <summary>With a per-event handler (<c>IHandleEvent</c>) and with a batch handler (<c>IHandleEventBatch</c>), killed in the middle of its batches.</summary>
    [Theory]
    [InlineData("delta", "event")]
    [InlineData("delta-batch", "batch")]
    public async Task ASubscriberKilledMidStreamAndRestartedAppliesEveryEventOnce(string consumer, string handler)
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = Samples.Settings(consumer, database.ConnectionString, vhost.AmqpUri);
        settings["Handler"] = handler;
        await SampleHostProcess.DeclareQueueAsync(settings, ct);
        using var publisher = await Samples.StartAsync(new(Samples.Settings("producer", database.ConnectionString, vhost.AmqpUri)) { ["Subscribe"] = "false" }, ct);
        await Samples.EnqueueAsync(publisher, database.ConnectionString, Events, aggregates: 50, ct);

        long handledWhenKilled;
        using (var first = SampleHostProcess.Start(settings))
        {
            await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, consumer, ct) >= Events / 5,
                TimeSpan.FromMinutes(2), "a fifth of the events handled by the first process", ct);
            first.Kill(); // SIGKILL: no shutdown, deliveries in flight.
            await first.WaitForExitAsync(ct);
            handledWhenKilled = await Samples.EffectsAsync(database.ConnectionString, consumer, ct);
        }

        using (var second = SampleHostProcess.Start(settings))
        {
            await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, consumer, ct) >= Events,
                TimeSpan.FromMinutes(2), "every event handled after the restart", ct);
            await Samples.EventuallyAsync(async () => await Samples.ReadyAsync(vhost.AmqpUri, $"{consumer}-sample-recorded", ct) == 0,
                TimeSpan.FromMinutes(1), "the queue drained", ct);
            second.Kill();
            await second.WaitForExitAsync(ct);
        }

        handledWhenKilled.ShouldBeLessThan(Events, "the kill must fall in the middle of the stream");
        (await Samples.ReadyAsync(vhost.AmqpUri, $"{consumer}-sample-recorded", ct)).ShouldBe(0u); // Unacked ones came back: none.
        (await Samples.EffectsAsync(database.ConnectionString, consumer, ct)).ShouldBe(Events);
        (await Samples.DistinctEffectsAsync(database.ConnectionString, consumer, ct)).ShouldBe(Events);
        await publisher.StopAsync(ct);
    }
}

/// <summary>The sample subscriber as a separate process, started with <c>dotnet</c> from this test's output folder.</summary>
internal static class SampleHostProcess
{
    public static Process Start(IReadOnlyDictionary<string, string?> settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = false,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Transformation.EventBus.TestHost.dll"));
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
    }

    /// <summary>Declares the subscriber's queue up front, so that events published before its process starts are kept for it.</summary>
    public static async Task DeclareQueueAsync(IReadOnlyDictionary<string, string?> settings, CancellationToken cancellationToken)
    {
        await using var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(settings["EventBus:RabbitMq"]!) }.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await RabbitMqTopology.DeclareSubscriptionAsync(channel, Samples.Topic, $"{settings["Service:Name"]}-{Samples.Topic}", cancellationToken);
    }
}
