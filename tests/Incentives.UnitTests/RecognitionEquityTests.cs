using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.IntegrationEvents.Handlers;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.UnitTests;

public sealed class RecognitionEquityTests
{
    [Fact]
    public void EqualPointsHaveAGiniOfZero()
    {
        RecognitionEquity.Gini([10, 10, 10, 10]).ShouldBe(0);
        RecognitionEquity.Gini([7]).ShouldBe(0);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(100)]
    public void OnePersonHoldingEverythingHasAGiniOfNMinusOneOverN(int n)
    {
        var points = new int[n];
        points[n / 2] = 40;

        RecognitionEquity.Gini(points).ShouldBe((n - 1) / (double)n, tolerance: 1e-12);
    }

    [Fact]
    public void NobodyOrNoPointsHaveAGiniOfZero()
    {
        RecognitionEquity.Gini([]).ShouldBe(0);
        RecognitionEquity.Gini([0, 0, 0]).ShouldBe(0);
    }

    [Fact]
    public void TheGiniFollowsTheMeanAbsoluteDifferenceAndIgnoresOrder()
    {
        // Σ|xi − xj| over ordered pairs = 2·(1 + 2 + 3 + 1 + 2 + 1) = 20; G = 20 / (2 · 4² · 2.5) = 0.25.
        RecognitionEquity.Gini([4, 1, 3, 2]).ShouldBe(0.25, tolerance: 1e-12);
        RecognitionEquity.Gini([0, 0, 10, 10]).ShouldBe(0.5, tolerance: 1e-12);
    }

    [Fact]
    public void NegativePointsAreRefused() => Should.Throw<ArgumentException>(() => RecognitionEquity.Gini([1, -1]));

    [Fact]
    public void UnitsReportTheirPeopleRecognisedShareAndPointsPerPerson()
    {
        var people = Enumerable.Range(0, 5).Select(i => new EmployeePoints($"a{i}", "unit-a", i < 2 ? 10 : 0))
            .Concat(Enumerable.Range(0, 6).Select(i => new EmployeePoints($"b{i}", "unit-b", 5)))
            .ToList();

        var report = RecognitionEquity.Compute(people, minimumGroupSize: 5);

        report.Units.Count.ShouldBe(2);
        report.Units[0].ShouldBe(new UnitEquity("unit-a", 5, 2, 20, 0.4, 4));
        report.Units[1].ShouldBe(new UnitEquity("unit-b", 6, 6, 30, 1, 5));
        report.Employees.ShouldBe(11);
        report.RecognisedShare.ShouldBe(8 / 11.0, tolerance: 1e-12);
        report.PointsGini.ShouldBe(RecognitionEquity.Gini([.. people.Select(p => p.Points)]));
        report.SuppressedUnits.ShouldBe(0);
    }

    [Fact]
    public void UnitsSmallerThanTheMinimumGroupAreLeftOutButCountInTheTotals()
    {
        var people = Enumerable.Range(0, 5).Select(i => new EmployeePoints($"a{i}", "unit-a", 0))
            .Append(new EmployeePoints("lonely", "unit-small", 50))
            .ToList();

        var report = RecognitionEquity.Compute(people, minimumGroupSize: 5);

        report.Units.Select(u => u.OrgUnitId).ShouldBe(["unit-a"]);
        report.SuppressedUnits.ShouldBe(1);
        report.RecognisedShare.ShouldBe(1 / 6.0, tolerance: 1e-12);
        report.PointsGini.ShouldBe(5 / 6.0, tolerance: 1e-12);
    }

    [Fact]
    public void APopulationBelowTheMinimumGroupReportsNothing()
    {
        var report = RecognitionEquity.Compute([new EmployeePoints("a", "u", 10), new EmployeePoints("b", "u", 0)], minimumGroupSize: 5);

        report.Units.ShouldBeEmpty();
        report.RecognisedShare.ShouldBe(0);
        report.PointsGini.ShouldBe(0);
        RecognitionEquity.Compute([], 5).Units.ShouldBeEmpty();
    }
}

public sealed class BudgetAllocationTests
{
    [Fact]
    public void ClaimsAreChargedInOrderWhileTheBudgetLastsAndSmallerLaterOnesStillFit()
    {
        var budgetOf = new Dictionary<(string, string), string> { [("team", "2026-11")] = "dept" };
        var left = new Dictionary<(string, string), int> { [("dept", "2026-11")] = 25 };

        var (charges, spent) = BudgetAllocation.Allocate(
            [new BudgetClaim("team", "2026-11", 10), new BudgetClaim("team", "2026-11", 10), new BudgetClaim("team", "2026-11", 10), new BudgetClaim("team", "2026-11", 5)],
            budgetOf, left);

        charges.Select(c => c.Reserved).ShouldBe([true, true, false, true]);
        charges.ShouldAllBe(c => c.BudgetUnitId == "dept");
        spent[("dept", "2026-11")].ShouldBe(25);
    }

    [Fact]
    public void AClaimWithoutABudgetIsNotLimited()
    {
        var (charges, spent) = BudgetAllocation.Allocate([new BudgetClaim("free", "2026-11", 1_000)], new Dictionary<(string, string), string>(),
            new Dictionary<(string, string), int>());

        charges.Single().ShouldBe(new BudgetCharge(true, ""));
        spent.ShouldBeEmpty();
    }

    [Fact]
    public void EachPeriodHasItsOwnBudget()
    {
        var budgetOf = new Dictionary<(string, string), string> { [("u", "2026-10")] = "u", [("u", "2026-11")] = "u" };
        var left = new Dictionary<(string, string), int> { [("u", "2026-10")] = 0, [("u", "2026-11")] = 10 };

        var (charges, _) = BudgetAllocation.Allocate([new BudgetClaim("u", "2026-10", 10), new BudgetClaim("u", "2026-11", 10)], budgetOf, left);

        charges.Select(c => c.Reserved).ShouldBe([false, true]);
    }
}

public sealed class BatchAntiGamingTests
{
    private static readonly AntiGamingThresholds On = new(ReciprocalMinCount: 1, ReciprocalWindowDays: 30, BurstMaxCount: 2, BurstWindowMinutes: 60);
    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void EarlierGiftsOfTheBatchCountAsIfStored()
    {
        PeerGift[] gifts = [new("a", "b", Noon), new("a", "c", Noon.AddMinutes(1)), new("b", "a", Noon.AddMinutes(2)), new("a", "d", Noon.AddMinutes(3))];
        GivingHistory[] stored = [new(0, 0), new(0, 0), new(0, 1), new(0, 0)];

        var histories = AntiGaming.WithEarlierInBatch(gifts, stored, On);

        histories[0].ShouldBe(new GivingHistory(0, 0));
        histories[1].ShouldBe(new GivingHistory(0, 1));
        histories[2].ShouldBe(new GivingHistory(1, 1)); // a gave b earlier in the batch; b's stored gift stays counted
        histories[3].ShouldBe(new GivingHistory(0, 2)); // d never gave a; a gave b and c within the hour
        AntiGaming.Flags(ObservationSource.Peer, "a", "d", histories[3], On).Single().ShouldStartWith("burst: a gave 3 peer rewards");
    }

    [Fact]
    public void GiftsOutsideTheWindowsDoNotCount()
    {
        PeerGift[] gifts = [new("a", "b", Noon), new("b", "a", Noon.AddDays(31)), new("b", "c", Noon.AddDays(31).AddMinutes(61))];

        var histories = AntiGaming.WithEarlierInBatch(gifts, [new(0, 0), new(0, 0), new(0, 0)], On);

        histories[1].ShouldBe(new GivingHistory(0, 0));
        histories[2].ShouldBe(new GivingHistory(0, 0));
    }
}

public sealed class FeedNotificationTests
{
    [Fact]
    public void APayloadCarriesTheRewardIdThenTheEmployeeIdWhichMayHoldSpaces()
    {
        FeedHub.TryParse(FeedHub.Payload("0195-reward", "emp 42"), out var reward, out var employee).ShouldBeTrue();
        reward.ShouldBe("0195-reward");
        employee.ShouldBe("emp 42");
    }

    [Theory]
    [InlineData("")]
    [InlineData("no-space")]
    [InlineData(" leading")]
    [InlineData("trailing ")]
    public void AMalformedPayloadIsRefused(string payload) => FeedHub.TryParse(payload, out _, out _).ShouldBeFalse();
}

public sealed class ObservationToEvaluationTests
{
    private static readonly DateTimeOffset Sent = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TheCatalogueDecidesThePolarityWhenItKnowsTheBehaviour()
    {
        var message = new BehaviourObserved { ObservationId = "o", EmployeeId = "e", BehaviourId = "b", Polarity = Polarity.Desired };

        BehaviourObservedHandler.ToEvaluation(message, Sent, new BehaviourSnapshot { BehaviourId = "b", Name = "Belittles", Polarity = Polarity.Unacceptable })
            .ShouldSatisfyAllConditions(
                e => e.Observation.Polarity.ShouldBe(Polarity.Unacceptable),
                e => e.BehaviourName.ShouldBe("Belittles"));
        BehaviourObservedHandler.ToEvaluation(message, Sent, null).Observation.Polarity.ShouldBe(Polarity.Desired);
        BehaviourObservedHandler.ToEvaluation(new BehaviourObserved(message) { Polarity = Polarity.Unacceptable }, Sent, new BehaviourSnapshot { Polarity = Polarity.Desired })
            .Observation.Polarity.ShouldBe(Polarity.Unacceptable);
    }

    [Fact]
    public void TheObservationTimeFallsBackToTheRecordingThenTheEventTime()
    {
        var observed = Sent.AddHours(-2);
        var recorded = Sent.AddHours(-1);
        var message = new BehaviourObserved
        {
            ObservationId = "o", EmployeeId = "e", BehaviourId = "b",
            ObservedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(observed),
            RecordedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(recorded),
        };

        BehaviourObservedHandler.ToEvaluation(message, Sent, null).Observation.ObservedAt.ShouldBe(observed);
        BehaviourObservedHandler.ToEvaluation(new BehaviourObserved(message) { ObservedAt = null }, Sent, null).Observation.ObservedAt.ShouldBe(recorded);
        BehaviourObservedHandler.ToEvaluation(new BehaviourObserved(message) { ObservedAt = null, RecordedAt = null }, Sent, null).Observation.ObservedAt.ShouldBe(Sent);
    }
}

public sealed class SourceSplitTests
{
    private static readonly List<EmployeePoints> People =
    [
        .. Enumerable.Range(0, 5).Select(i => new EmployeePoints($"a{i}", "unit-a", 0)),
        .. Enumerable.Range(0, 3).Select(i => new EmployeePoints($"c{i}", "unit-c", 0)),
    ];

    [Fact]
    public void PointsAndRewardsAreSplitBySourceOverEveryoneAndPerUnitOfAtLeastTheMinimumGroup()
    {
        SourceGrants[] grants =
        [
            new("a0", ObservationSource.Manager, 30, 3),
            new("a1", ObservationSource.Peer, 10, 2),
            new("a1", ObservationSource.Manager, 20, 1),
            new("c0", ObservationSource.CustomerFeedback, 40, 2),
        ];

        var split = RecognitionEquity.SplitBySource(People, grants, minimumGroupSize: 5);

        split.Overall.Select(s => s.Source).ShouldBe(RecognitionEquity.Sources);
        split.Overall[0].ShouldBe(new RecognitionBySource(ObservationSource.Manager, 50, 4, 0.5, 0.5));
        split.Overall[1].ShouldBe(new RecognitionBySource(ObservationSource.Peer, 10, 2, 0.1, 0.25));
        split.Overall[3].ShouldBe(new RecognitionBySource(ObservationSource.CustomerFeedback, 40, 2, 0.4, 0.25));
        split.Overall[2].ShouldBe(new RecognitionBySource(ObservationSource.SystemIntegration, 0, 0, 0, 0));
        split.ByUnit.Keys.ShouldBe(["unit-a"]); // unit-c has 3 people: not split on its own.
        split.ByUnit["unit-a"][0].ShouldBe(new RecognitionBySource(ObservationSource.Manager, 50, 4, 50 / 60.0, 4 / 6.0));
        split.ByUnit["unit-a"][1].ShouldBe(new RecognitionBySource(ObservationSource.Peer, 10, 2, 10 / 60.0, 2 / 6.0));
    }

    [Fact]
    public void AUnitWithoutGrantsHasZeroSharesAndASmallPopulationNothing()
    {
        var quiet = RecognitionEquity.SplitBySource(People, [], minimumGroupSize: 5);
        quiet.ByUnit["unit-a"].ShouldAllBe(s => s.Points == 0 && s.Rewards == 0 && s.PointsShare == 0 && s.RewardsShare == 0);
        quiet.Overall.ShouldAllBe(s => s.PointsShare == 0);

        var small = RecognitionEquity.SplitBySource(People.Take(4), [new SourceGrants("a0", ObservationSource.Manager, 10, 1)], minimumGroupSize: 5);
        small.Overall.ShouldBeEmpty();
        small.ByUnit.ShouldBeEmpty();
    }
}

public sealed class LeaderboardTests
{
    [Fact]
    public void TeamsUnderTheMinimumGroupAreLeftOutAndCountedThenTheRestRankByPointsRewardsAndId()
    {
        TeamPoints[] units =
        [
            new("small", "Small", 4, 500, 9),
            new("b", "B", 5, 40, 2),
            new("a", "A", 12, 40, 2),
            new("c", "C", 6, 40, 3),
            new("d", "D", 7, 90, 1),
        ];

        var (shown, suppressed) = Leaderboards.Teams(units, minimumGroupSize: 5, limit: 10);

        shown.Select(t => t.OrgUnitId).ShouldBe(["d", "c", "a", "b"]);
        suppressed.ShouldBe(1);
        Leaderboards.Teams(units, 5, limit: 2).Shown.Select(t => t.OrgUnitId).ShouldBe(["d", "c"]);
        Leaderboards.Teams(units, 5, limit: 2).Suppressed.ShouldBe(1);
        Leaderboards.Teams(units, 13, limit: 10).Shown.ShouldBeEmpty();
    }
}
