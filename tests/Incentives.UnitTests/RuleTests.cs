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

public sealed class NetworkAntiGamingTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);
    private static readonly AntiGamingThresholds Rings = new(0, 0, 0, 0, RingMaxLength: 4, RingWindowDays: 30);
    private static readonly AntiGamingThresholds Proxies = new(0, 0, 0, 0, ProxyMinCount: 2, ProxyWindowDays: 30);

    private static PeerGift Gift(string from, string to, int daysAgo = 1) => new(from, to, Noon.AddDays(-daysAgo));

    [Fact]
    public void AGiftThatClosesARingOfThreeIsFlaggedNamingTheRing()
    {
        var flags = AntiGaming.NetworkFlags(new PeerGift("c", "a", Noon), [Gift("a", "b", 3), Gift("b", "c", 2), Gift("x", "y")], [], Rings);

        flags.Single().ShouldBe("ring: c → a → b → c: this peer reward closes a ring of 3 peer rewards within 30 day(s)");
    }

    [Fact]
    public void TheShortestRingUpToTheLongestLookedForIsNamed()
    {
        PeerGift[] four = [Gift("a", "b"), Gift("b", "c"), Gift("c", "d")];
        AntiGaming.NetworkFlags(new PeerGift("d", "a", Noon), four, [], Rings).Single().ShouldStartWith("ring: d → a → b → c → d:");
        AntiGaming.NetworkFlags(new PeerGift("d", "a", Noon), [.. four, Gift("b", "d")], [], Rings).Single().ShouldStartWith("ring: d → a → b → d:");

        // Five people: longer than the rules look for.
        AntiGaming.NetworkFlags(new PeerGift("e", "a", Noon), [.. four, Gift("d", "e")], [], Rings).ShouldBeEmpty();
    }

    [Fact]
    public void GivingBackIsReciprocalNotARingAndOldOrLaterGiftsDoNotCount()
    {
        AntiGaming.NetworkFlags(new PeerGift("b", "a", Noon), [Gift("a", "b")], [], Rings).ShouldBeEmpty();
        AntiGaming.NetworkFlags(new PeerGift("c", "a", Noon), [Gift("a", "b", 31), Gift("b", "c")], [], Rings).ShouldBeEmpty();
        AntiGaming.NetworkFlags(new PeerGift("c", "a", Noon), [Gift("a", "b"), Gift("b", "c", -1)], [], Rings).ShouldBeEmpty();
        AntiGaming.NetworkFlags(new PeerGift("c", "a", Noon), [Gift("a", "b"), Gift("b", "c")], [], AntiGamingThresholds.Off).ShouldBeEmpty();
    }

    [Fact]
    public void ARingClosedWithGiftsEarlierInTheSameBatchIsFlagged()
    {
        PeerGift[] batch = [new("a", "b", Noon), new("b", "c", Noon.AddMinutes(1)), new("c", "a", Noon.AddMinutes(2))];

        var flags = AntiGaming.NetworkFlagsInBatch(batch, PeerNetwork.Empty, Rings);

        flags[0].ShouldBeEmpty();
        flags[1].ShouldBeEmpty();
        flags[2].Single().ShouldStartWith("ring: c → a → b → c:");

        // One link stored, the other two in the batch.
        AntiGaming.NetworkFlagsInBatch([new("b", "c", Noon), new("c", "a", Noon.AddMinutes(1))], new PeerNetwork([Gift("a", "b")], []), Rings)[1]
            .Single().ShouldStartWith("ring: c → a → b → c:");
    }

    [Fact]
    public void GivingThroughAProxyWhileStoppedFromGivingDirectlyIsFlaggedWithTheReason()
    {
        // g was stopped from rewarding r (cooldown); g rewards x twice, x rewards r once before and now again.
        StoppedGift[] stopped = [new("g", "r", Noon.AddDays(-5), StopReason.Cooldown)];
        PeerGift[] earlier = [Gift("g", "x", 4), Gift("g", "x", 3), Gift("x", "r", 2)];

        var flags = AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier, stopped, Proxies);

        flags.Single().ShouldBe(
            "proxy: g may not reward r directly (their peer reward to r was declined for the cooldown), yet gave x 2 peer reward(s) and x gave r 2 (this one included) within 30 day(s)");
    }

    [Fact]
    public void NoProxyWithoutAStoppedGiverOrEnoughGivingThroughTheProxy()
    {
        StoppedGift[] stopped = [new("g", "r", Noon.AddDays(-5), StopReason.Held)];
        PeerGift[] earlier = [Gift("g", "x", 4), Gift("g", "x", 3), Gift("x", "r", 2)];
        AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier, [], Proxies).ShouldBeEmpty();
        AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier.Take(2).ToList(), stopped, Proxies).ShouldBeEmpty(); // x → r only once
        AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier.Skip(1).ToList(), stopped, Proxies).ShouldBeEmpty(); // g → x only once
        AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier, [new("g", "r", Noon.AddDays(-40), StopReason.Held)], Proxies).ShouldBeEmpty();
        AntiGaming.NetworkFlags(new PeerGift("x", "r", Noon), earlier, stopped, Proxies).Single().ShouldContain("is held for review");
    }

    [Fact]
    public void RingAndProxyRulesAreValidatedAndOffByDefault()
    {
        var rules = new IncentiveRules { AntiGaming = new AntiGamingRules { RingMaxLength = 2, ProxyMinCount = 2 } };
        RuleSet.Validate(rules).Select(v => v.Field).ShouldBe(["rules.anti_gaming.ring_max_length", "rules.anti_gaming.proxy_window_days"], ignoreOrder: true);
        RuleSet.Validate(new IncentiveRules { AntiGaming = new AntiGamingRules { RingMaxLength = 4 } }).Single().Field.ShouldBe("rules.anti_gaming.ring_window_days");
        RuleSet.Validate(new IncentiveRules { AntiGaming = new AntiGamingRules { RingMaxLength = 7, RingWindowDays = 30 } }).Single().Field
            .ShouldBe("rules.anti_gaming.ring_max_length");
        var off = RuleSet.FromProto(1, new IncentiveRules { AntiGaming = new AntiGamingRules { ReciprocalMinCount = 1, ReciprocalWindowDays = 30 } }).AntiGaming;
        off.LooksAtNetwork.ShouldBeFalse();
        var on = RuleSet.FromProto(1, new IncentiveRules
        {
            AntiGaming = new AntiGamingRules { RingMaxLength = 4, RingWindowDays = 30, ProxyMinCount = 2, ProxyWindowDays = 60 },
        }).AntiGaming;
        on.ShouldBe(new AntiGamingThresholds(0, 0, 0, 0, 4, 30, 2, 60));
        on.NetworkWindow.ShouldBe(TimeSpan.FromDays(60));
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
    public void NumbersAboveTheirRangeAreFieldErrorsNotSavedAsSomethingElse()
    {
        var rules = new IncentiveRules
        {
            CapPerEmployee = int.MaxValue, CooldownMinutes = 600_000, ApprovalThreshold = 20_000_000, PeerAllowance = 10_000_001, MinimumGroupSize = 50_000,
            AntiGaming = new AntiGamingRules { ReciprocalMinCount = 20_000, ReciprocalWindowDays = 30 },
        };
        rules.SourcePoints.Add(new SourcePoints { Source = ObservationSource.Peer, Points = 100_001 });
        rules.Badges.Add(new BadgeRule { BadgeId = "b", Name = "B", Threshold = int.MaxValue });
        var violations = RuleSet.Validate(rules);
        violations.Select(v => v.Field).ShouldBe(
        [
            "rules.source_points[0].points", "rules.cap_per_employee", "rules.cooldown_minutes", "rules.approval_threshold", "rules.peer_allowance",
            "rules.minimum_group_size", "rules.badges[0].threshold", "rules.anti_gaming.reciprocal_min_count",
        ], ignoreOrder: true);
        violations.Single(v => v.Field == "rules.peer_allowance").Description.ShouldBe("From 0 to 10000000.");
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
