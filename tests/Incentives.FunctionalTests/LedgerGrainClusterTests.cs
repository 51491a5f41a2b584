using System.Collections.Immutable;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>An employee's ledger grain in a two-silo cluster of Orleans' test host (<see cref="IncentivesCluster"/>), called through both silos' grain factories.</summary>
public sealed class LedgerGrainClusterTests(PostgresDatabase postgres) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    // No cap, cooldown or approval: every observation is granted its 10 points, so the totals are the sum of the calls.
    private static readonly RuleSet Rules = RuleSet.Empty with
    {
        Version = 1,
        SourcePoints = ImmutableDictionary<ObservationSource, int>.Empty.Add(ObservationSource.Manager, 10),
    };

    private IncentivesCluster _cluster = null!;

    public async ValueTask InitializeAsync() => _cluster = await IncentivesCluster.StartAsync(postgres.ConnectionString);

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();

    private static Observation Seen(string employeeId, int i) =>
        new($"{employeeId}-o{i}", employeeId, "helps-customers", 1, Polarity.Desired, ObservationSource.Manager, $"m-{i}", Noon, "unit-lg");

    [Fact]
    public async Task ConcurrentObservationsSentThroughBothSilosAreEachCountedOnce()
    {
        const int Observations = 150;
        ILedgerGrain[] ledgers = [.. _cluster.Cluster.GetActiveSilos().Select(silo => IncentivesCluster.Factory(silo).GetGrain<ILedgerGrain>("e-cluster"))];
        ledgers.Length.ShouldBe(2);

        // Every observation reaches the ledger through both silos at once (a redelivery racing its first delivery), and is
        // settled through both: the calls interleave, from the first activation on.
        var decisions = await Task.WhenAll(Enumerable.Range(0, Observations).SelectMany(i => ledgers.Select(async ledger =>
        {
            var observation = Seen("e-cluster", i);
            var evaluated = (await ledger.EvaluateAllAsync([observation], Rules, [[]], settleUnbudgeted: false)).Single();
            evaluated.Verdict.ShouldBe(Verdict.Granted);
            return (await ledger.SettleAllAsync([observation.ObservationId], [true], Rules)).Single();
        })));

        decisions.ShouldAllBe(d => d.Verdict == Verdict.Granted && d.Points == 10 && d.Settled);
        (await _cluster.ActivationsAsync(ledgers[0])).ShouldBe(1);
        foreach (var ledger in ledgers)
        {
            var state = await ledger.GetStateAsync();
            state.ReceivedIn(Rules.PeriodOf(Noon)).ShouldBe(Observations * 10);
            state.LifetimeGranted.ShouldBe(Observations * 10);
            state.Recent.Count.ShouldBe(Observations);
            state.LastRewardFrom.Count.ShouldBe(Observations);
        }
    }
}
