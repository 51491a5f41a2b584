using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.UnitTests;

/// <summary>What crosses the ledger grain's calls survives Orleans' serializer whole, and is passed without a copy (immutable).</summary>
public sealed class GrainSerializationTests
{
    private static readonly ServiceProvider Services = new ServiceCollection()
        .AddSerializer(serializer => serializer.AddAssembly(typeof(LedgerState).Assembly))
        .BuildServiceProvider();

    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    private static readonly Badge Helper = new("helper", "Helper", 100);

    private static T RoundTrip<T>(T value)
        where T : class
    {
        var serializer = Services.GetRequiredService<Serializer>();
        return serializer.Deserialize<T>(serializer.SerializeToArray(value)).ShouldNotBeNull();
    }

    /// <summary>A decision with its arrays' contents (a record compares immutable arrays by reference).</summary>
    private static string Shown(Decision decision) =>
        $"{decision with { Flags = default, BadgesEarned = default }} [{string.Join(", ", decision.Flags)}] [{string.Join(", ", decision.BadgesEarned)}]";

    private static RuleSet Rules() => LedgerStateTests.Rules(cap: 50, cooldownMinutes: 60, approval: 20, allowance: 30, Helper) with
    {
        PeriodKind = PeriodKind.Week,
        AntiGaming = new AntiGamingThresholds(2, 30, 5, 10, RingMaxLength: 4, RingWindowDays: 7, ProxyMinCount: 3, ProxyWindowDays: 14),
        ObservationsPublic = true,
    };

    [Fact]
    public void RulesCrossWithTheirPointsBadgesAndThresholds()
    {
        var rules = Rules();
        var copy = RoundTrip(rules);

        copy.ShouldNotBeSameAs(rules);
        copy.PeriodKind.ShouldBe(PeriodKind.Week);
        copy.SourcePoints.ShouldBe(rules.SourcePoints, ignoreOrder: true);
        copy.BehaviourPoints[("mentors", ObservationSource.Manager)].ShouldBe(50);
        copy.Badges.ShouldBe([Helper]);
        copy.AntiGaming.ShouldBe(rules.AntiGaming);
        (copy with { SourcePoints = rules.SourcePoints, BehaviourPoints = rules.BehaviourPoints, Badges = rules.Badges }).ShouldBe(rules);
    }

    [Fact]
    public void ObservationsAndDecisionsCrossWhole()
    {
        var observation = new Observation("o1", "e1", "speaks-up", 3, Polarity.Unacceptable, ObservationSource.Peer, "g1", Noon, "unit-a",
            "init-1", "evidence", "message", Public: false);
        RoundTrip(observation).ShouldBe(observation);

        var decision = new Decision("o1", Verdict.Flagged, 5, DeclineReason.Cooldown, "2026-W47", 2, ["reciprocal", "burst"], [Helper], Settled: true);
        var copy = RoundTrip(decision);
        copy.Flags.ShouldBe(["reciprocal", "burst"]);
        copy.BadgesEarned.ShouldBe([Helper]);
        Shown(copy).ShouldBe(Shown(decision));

        // Empty and default immutable arrays alike arrive usable.
        RoundTrip(decision with { Flags = [], BadgesEarned = default }).Flags.ShouldBeEmpty();
    }

    [Fact]
    public void ALedgerStateCrossesWithEveryTotalAndItsRecentDecisions()
    {
        var rules = LedgerStateTests.Rules(badges: [new Badge("starter", "Starter", 10)]);
        var state = new LedgerState();
        foreach (var (id, giver) in new[] { ("o1", "m1"), ("o2", "m2"), ("o3", "m1") })
        {
            (_, state) = state.Evaluate(new Observation(id, "e1", "speaks-up", 1, Polarity.Desired, ObservationSource.Manager, giver, Noon, "unit-a"), rules, []);
            (_, state) = state.Settle(id, budgetReserved: true, rules);
        }

        var copy = RoundTrip(state);
        copy.ReceivedByPeriod.ShouldBe(state.ReceivedByPeriod, ignoreOrder: true);
        copy.LastRewardFrom.ShouldBe(state.LastRewardFrom, ignoreOrder: true);
        copy.LifetimeGranted.ShouldBe(30);
        copy.Badges.ShouldBe(["starter"]);
        copy.Recent.ToDictionary(r => r.Key, r => Shown(r.Value)).ShouldBe(state.Recent.ToDictionary(r => r.Key, r => Shown(r.Value)), ignoreOrder: true);
        copy.RecentOrder.ShouldBe(["o1", "o2", "o3"]);

        // The copy decides as the original would: a retried observation gets its first decision back.
        copy.Evaluate(new Observation("o2", "e1", "speaks-up", 1, Polarity.Desired, ObservationSource.Manager, "m2", Noon, "unit-a"), rules, [])
            .Decision.ShouldBeSameAs(copy.Recent["o2"]);
    }

    [Fact]
    public void ImmutableRecordsAreNotCopiedWithinTheSilo()
    {
        var copier = Services.GetRequiredService<DeepCopier>();
        var state = new LedgerState();
        var rules = Rules();
        copier.Copy(state).ShouldBeSameAs(state);
        copier.Copy(rules).ShouldBeSameAs(rules);
    }
}
