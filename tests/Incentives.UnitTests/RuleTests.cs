using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Incentives.UnitTests;

public sealed class AntiGamingTests
{
    private static readonly AntiGamingThresholds On = new(ReciprocalMinCount: 2, ReciprocalWindowDays: 30, BurstMaxCount: 5, BurstWindowMinutes: 60);

    [Fact]
    public void ReciprocalGivingIsFlaggedWithItsReason()
    {
        var flags = AntiGaming.Flags(ObservationSource.Peer, "a", "b", new GivingHistory(2, 0), On);
        flags.Count.ShouldBe(1);
        flags[0].ShouldStartWith("reciprocal: b gave a 2 peer reward(s) in the last 30 day(s)");
    }

    [Fact]
    public void ABurstFromOneGiverIsFlagged()
    {
        AntiGaming.Flags(ObservationSource.Peer, "a", "b", new GivingHistory(0, 4), On).ShouldBeEmpty();
        AntiGaming.Flags(ObservationSource.Peer, "a", "b", new GivingHistory(0, 5), On).Single().ShouldStartWith("burst: a gave 6 peer rewards within 60 minute(s)");
    }

    [Fact]
    public void OnlyPeerRewardsAreCheckedAndZeroThresholdsAreOff()
    {
        AntiGaming.Flags(ObservationSource.Manager, "a", "b", new GivingHistory(9, 9), On).ShouldBeEmpty();
        AntiGaming.Flags(ObservationSource.Peer, "a", "b", new GivingHistory(9, 9), AntiGamingThresholds.Off).ShouldBeEmpty();
    }
}

public sealed class AccessTests
{
    private static Caller As(string subject, params string[] roles) => new(subject, roles.ToHashSet(StringComparer.Ordinal));

    [Fact]
    public void AFeedIsForTheEmployeeTheirManagerAndHr()
    {
        Access.MayReadFeed(As("e1", Roles.Employee), "e1", "m1").ShouldBeTrue();
        Access.MayReadFeed(As("m1", Roles.Employee), "e1", "m1").ShouldBeTrue();
        Access.MayReadFeed(As("h", Roles.Hr), "e1", "m1").ShouldBeTrue();
        Access.MayReadFeed(As("e2", Roles.Employee), "e1", "m1").ShouldBeFalse();
        Access.MayReadFeed(As("x", Roles.Executive), "e1", "m1").ShouldBeFalse();
    }

    [Fact]
    public void ManagersReviewTheirReportsPendingRewardsHrAlsoFlaggedOnes()
    {
        Access.MayReview(As("m1", Roles.Employee), Verdict.PendingApproval, "e1", "sys", "m1").ShouldBeTrue();
        Access.MayReview(As("m1", Roles.Employee), Verdict.Flagged, "e1", "p", "m1").ShouldBeFalse();
        Access.MayReview(As("m2", Roles.Employee), Verdict.PendingApproval, "e1", "sys", "m1").ShouldBeFalse();
        Access.MayReview(As("h", Roles.Hr), Verdict.Flagged, "e1", "p", "m1").ShouldBeTrue();
        Access.MayReview(As("h", Roles.Hr), Verdict.Granted, "e1", "p", "m1").ShouldBeFalse();
    }

    [Fact]
    public void NobodyReviewsARewardTheyGaveOrReceived()
    {
        Access.MayReview(As("m1", Roles.Employee), Verdict.PendingApproval, "e1", "m1", "m1").ShouldBeFalse();
        Access.MayReview(As("e1", Roles.Hr), Verdict.PendingApproval, "e1", "sys", "m1").ShouldBeFalse();
    }
}

public sealed class CallOutReportTests
{
    [Fact]
    public void GroupsBelowTheMinimumSizeAreSuppressed()
    {
        var (reported, suppressed) = CallOutReport.Apply(
            [new CallOutGroup("b", "u1", "2026-11", 9, 5), new CallOutGroup("b", "u2", "2026-11", 9, 4), new CallOutGroup("c", "u1", "2026-11", 1, 1)], 5);
        reported.Select(g => g.OrgUnitId).ShouldBe(["u1"]);
        suppressed.ShouldBe(2);
    }
}

public sealed class RuleSetTests
{
    [Fact]
    public void InvalidRulesNameTheirFields()
    {
        var rules = new IncentiveRules { CapPerEmployee = -1, MinimumGroupSize = 2, AntiGaming = new AntiGamingRules { BurstMaxCount = 3 } };
        rules.SourcePoints.Add(new SourcePoints { Source = ObservationSource.Unspecified, Points = 5 });
        rules.Badges.Add(new BadgeRule { BadgeId = "", Name = "x", Threshold = 0 });
        RuleSet.Validate(rules).Select(v => v.Field).ShouldBe(
        [
            "rules.source_points[0].source", "rules.cap_per_employee", "rules.minimum_group_size", "rules.badges[0].badge_id", "rules.badges[0].threshold",
            "rules.anti_gaming.burst_window_minutes",
        ], ignoreOrder: true);
    }

    [Fact]
    public void TheDefaultMinimumGroupSizeIsFive() =>
        RuleSet.FromProto(1, new IncentiveRules()).MinimumGroupSize.ShouldBe(5);

    [Theory]
    [InlineData(PeriodKind.Month, "2026-11")]
    [InlineData(PeriodKind.Quarter, "2026-Q4")]
    [InlineData(PeriodKind.Week, "2026-W47")]
    public void PeriodsAreNamedByKind(PeriodKind kind, string expected)
    {
        var key = Period.Of(kind, new DateTimeOffset(2026, 11, 20, 12, 0, 0, TimeSpan.Zero));
        key.ShouldBe(expected);
        Period.IsValidKey(key).ShouldBeTrue();
    }

    [Fact]
    public void ABehaviourDraftIsValidated()
    {
        var draft = new BehaviourDraft { Name = "", Description = "d", Polarity = Polarity.Unspecified };
        draft.Dimensions.Add(new DimensionLink { DimensionId = "openness", Weight = 1.5 });
        Behaviours.Validate(draft).Select(v => v.Field).ShouldBe(["behaviour.name", "behaviour.polarity", "behaviour.dimensions[0].weight"], ignoreOrder: true);
    }
}
