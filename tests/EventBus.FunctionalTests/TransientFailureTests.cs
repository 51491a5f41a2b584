using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;
using Transformation.ServiceDefaults;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>
/// A handler failing because a dependency is unavailable for a moment (a kind the service declares transient, as the Orleans
/// building block declares a dead silo) is retried past its attempts and never dead-lettered; any other failure still is.
/// </summary>
public sealed class TransientFailureTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const int MaxAttempts = 3;

    [Fact]
    public async Task AFailureDeclaredTransientIsRetriedPastTheAttemptsAndTheEventHandledOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = await BuildAsync("lambda", declareTimeoutsTransient: true, ct);
        var (processor, subscription, poison) = Parts(host);
        poison.Outages = MaxAttempts * 2;

        (await processor.ProcessAsync(subscription, Body(7), ct)).ShouldBe(Outcome.Handled);

        poison.Attempts.ShouldBe(MaxAttempts * 2 + 1);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE consumer = 'lambda' AND number = 7", ct)).ShouldBe(1);
    }

    [Fact]
    public async Task TheSameFailureUndeclaredUsesUpTheAttemptsAndTheEventFails()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = await BuildAsync("mu", declareTimeoutsTransient: false, ct);
        var (processor, subscription, poison) = Parts(host);
        poison.Outages = MaxAttempts * 2;

        (await processor.ProcessAsync(subscription, Body(7), ct)).ShouldBe(Outcome.Failed);

        poison.Attempts.ShouldBe(MaxAttempts);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE consumer = 'mu'", ct)).ShouldBe(0);
    }

    /// <summary>A per-event subscriber, built but not started: the test hands deliveries to its processor itself.</summary>
    private async Task<IHost> BuildAsync(string appId, bool declareTimeoutsTransient, CancellationToken cancellationToken)
    {
        await SampleHost.EnsureEffectTableAsync(database.ConnectionString, cancellationToken);
        await using (var dataSource = NpgsqlDataSource.Create(database.ConnectionString))
        {
            await EventBusSchema.EnsureCreatedAsync(dataSource, cancellationToken);
        }

        var settings = Samples.Settings(appId, database.ConnectionString, new Uri("amqp://127.0.0.1:1/unused"));
        settings["EventBus:MaxAttempts"] = MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["EventBus:RetryBaseDelay"] = "00:00:00.010";
        var builder = SampleHost.CreateBuilder([], settings);
        if (declareTimeoutsTransient)
        {
            builder.Services.AddTransientFailure(e => e is TimeoutException);
        }

        return builder.Build();
    }

    private static (EventProcessor Processor, Subscription Subscription, PoisonSwitch Poison) Parts(IHost host) =>
        (host.Services.GetRequiredService<EventProcessor>(), host.Services.GetServices<Subscription>().ShouldHaveSingleItem(),
            host.Services.GetRequiredService<PoisonSwitch>());

    private static ReadOnlyMemory<byte> Body(int number) => CloudEvent.Create(
        new SampleRecorded { AggregateId = "aggregate-1", Number = number, Note = "poison" }, "producer", "aggregate-1", "pubsub").ToUtf8Json();
}
