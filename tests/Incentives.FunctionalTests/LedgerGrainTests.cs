using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>An employee's ledger grain in its real host (its state folded from the service's database), called through the grain factory.</summary>
public sealed class LedgerGrainTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    // No cap, cooldown or approval: every observation is granted its 10 points, so the totals are the sum of the calls.
    private static readonly RuleSet Rules = RuleSet.Empty with
    {
        Version = 1,
        SourcePoints = ImmutableDictionary<ObservationSource, int>.Empty.Add(ObservationSource.Manager, 10),
    };

    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    private static Observation Seen(string employeeId, int i) =>
        new($"{employeeId}-o{i}", employeeId, "helps-customers", 1, Polarity.Desired, ObservationSource.Manager, $"m-{i}", Noon, "unit-lg");

    [Fact]
    public async Task ManyConcurrentObservationsForOneLedgerAreAllCounted()
    {
        const int Calls = 200;
        var ledger = _host.Services.GetRequiredService<IGrainFactory>().GetGrain<ILedgerGrain>("e-lg");

        // Each caller evaluates its observation and settles it with its budget reserved, all at once: the calls interleave.
        var decisions = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            var observation = Seen("e-lg", i);
            var evaluated = (await ledger.EvaluateAllAsync([observation], Rules, [[]], settleUnbudgeted: false)).Single();
            evaluated.Verdict.ShouldBe(Verdict.Granted);
            return (await ledger.SettleAllAsync([observation.ObservationId], [true], Rules)).Single();
        }));

        decisions.ShouldAllBe(d => d.Verdict == Verdict.Granted && d.Points == 10 && d.Settled);
        var state = await ledger.GetStateAsync();
        state.ReceivedIn(Rules.PeriodOf(Noon)).ShouldBe(Calls * 10);
        state.LifetimeGranted.ShouldBe(Calls * 10);
        state.Recent.Count.ShouldBe(Calls);
        state.LastRewardFrom.Count.ShouldBe(Calls);
    }
}
