using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Transformation.Actors.UnitTests;

/// <summary>Runs alone: the meter's name is process-wide, so other tests' calls would be counted too.</summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class Isolated;

[Collection(typeof(Isolated))]
public sealed class ActorMetricsTests
{
    [Fact]
    public async Task ActivationsCallsLatencyDeactivationsConflictsAndMailboxesAreMeasured()
    {
        var measured = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ActorMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => measured.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => measured.AddOrUpdate(instrument.Name, 1, (_, count) => count + 1));
        listener.Start();

        var store = new InMemoryActorStateStore();
        await using var host = await TestHost.StartAsync(store);
        var actor = host.Actors.Get<ITallyActor>("measured");
        for (var i = 0; i < 10; i++)
        {
            await actor.AddAsync(1);
        }

        await store.WriteAsync(new ActorKey("tally", "measured"), new Tally(0, 0), 10, [], null, CancellationToken.None);
        await Should.ThrowAsync<InconsistentStateException>(() => actor.AddAsync(1));
        await host.ActorHost.DeactivateAsync("tally", "measured", TestContext.Current.CancellationToken);
        listener.RecordObservableInstruments();

        measured["actors.calls"].ShouldBe(11);
        measured["actors.call.duration"].ShouldBe(11);
        measured["actors.etag_conflicts"].ShouldBe(1);
        measured["actors.deactivations"].ShouldBe(1);
        measured["actors.activations"].ShouldBe(0); // one activation, then its deactivation
        measured.ShouldContainKey("actors.mailbox.length");
    }
}
