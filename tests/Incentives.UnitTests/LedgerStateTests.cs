using System.Collections.Immutable;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.UnitTests;

public sealed class LedgerStateTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    internal static RuleSet Rules(int cap = 0, int cooldownMinutes = 0, int approval = 0, int allowance = 0, params Badge[] badges) =>
        RuleSet.Empty with
        {
            Version = 1,
            SourcePoints = ImmutableDictionary<ObservationSource, int>.Empty.Add(ObservationSource.Manager, 10).Add(ObservationSource.Peer, 5),
            BehaviourPoints = ImmutableDictionary<(string, ObservationSource), int>.Empty.Add(("mentors", ObservationSource.Manager), 50),
            CapPerEmployee = cap,
            Cooldown = TimeSpan.FromMinutes(cooldownMinutes),
            ApprovalThreshold = approval,
            PeerAllowance = allowance,
            Badges = [.. badges],
        };

    private static Observation Seen(string id, string giver = "m1", ObservationSource source = ObservationSource.Manager, string behaviour = "speaks-up",
        Polarity polarity = Polarity.Desired, DateTimeOffset? at = null) =>
        new(id, "e1", behaviour, 1, polarity, source, giver, at ?? Noon, "unit-a");

    [Fact]
    public void PointsComeFromTheSourceUnlessTheBehaviourHasItsOwn()
    {
        var rules = Rules();
        new LedgerState().Evaluate(Seen("o1"), rules, []).Decision.Points.ShouldBe(10);
        new LedgerState().Evaluate(Seen("o1", source: ObservationSource.Peer), rules, []).Decision.Points.ShouldBe(5);
        new LedgerState().Evaluate(Seen("o1", behaviour: "mentors"), rules, []).Decision.Points.ShouldBe(50);
    }

    [Fact]
    public void ASourceWithoutPointsIsDeclined()
    {
        var (decision, _) = new LedgerState().Evaluate(Seen("o1", giver: "", source: ObservationSource.CustomerFeedback), Rules(), []);
        decision.Verdict.ShouldBe(Verdict.Declined);
        decision.Reason.ShouldBe(DeclineReason.NoPoints);
    }

    [Fact]
    public void UnacceptableBehaviourIsACallOutWithoutPoints()
    {
        var (decision, next) = new LedgerState().Evaluate(Seen("o1", polarity: Polarity.Unacceptable), Rules(), []);
        decision.Verdict.ShouldBe(Verdict.CallOut);
        decision.Points.ShouldBe(0);
        next.ReceivedIn("2026-11").ShouldBe(0);
    }

    [Fact]
    public void TheCapCutsTheLastRewardAndDeclinesTheRest()
    {
        var rules = Rules(cap: 25);
        var state = new LedgerState();
        var points = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            var (decision, next) = state.Evaluate(Seen($"o{i}", giver: $"m{i}"), rules, []);
            (decision, next) = next.Settle(decision.ObservationId, budgetReserved: true, rules);
            points.Add(decision.Points);
            state = next;
        }

        points.ShouldBe([10, 10, 5, 0]);
        state.ReceivedIn("2026-11").ShouldBe(25);
        state.Recent["o3"].Reason.ShouldBe(DeclineReason.CapReached);
    }

    [Fact]
    public void TheCapStartsAfreshInTheNextPeriod()
    {
        var rules = Rules(cap: 10);
        var (_, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        var (decision, _) = state.Evaluate(Seen("o2", giver: "m2", at: Noon.AddMonths(1)), rules, []);
        decision.Verdict.ShouldBe(Verdict.Granted);
        decision.Period.ShouldBe("2026-12");
    }

    [Fact]
    public void TheSameGiverWithinTheCooldownIsDeclinedAnotherGiverIsNot()
    {
        var rules = Rules(cooldownMinutes: 60);
        var (_, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        state.Evaluate(Seen("o2", at: Noon.AddMinutes(30)), rules, []).Decision.Reason.ShouldBe(DeclineReason.Cooldown);
        state.Evaluate(Seen("o3", at: Noon.AddMinutes(-30)), rules, []).Decision.Reason.ShouldBe(DeclineReason.Cooldown);
        state.Evaluate(Seen("o4", giver: "m2", at: Noon.AddMinutes(30)), rules, []).Decision.Verdict.ShouldBe(Verdict.Granted);
        state.Evaluate(Seen("o5", at: Noon.AddMinutes(61)), rules, []).Decision.Verdict.ShouldBe(Verdict.Granted);
    }

    [Fact]
    public void AboveTheApprovalThresholdARewardWaitsButItsPointsAreReserved()
    {
        var rules = Rules(cap: 55, approval: 20);
        var (decision, state) = new LedgerState().Evaluate(Seen("o1", behaviour: "mentors"), rules, []);
        decision.Verdict.ShouldBe(Verdict.PendingApproval);
        state.ReceivedIn("2026-11").ShouldBe(50);
        state.Evaluate(Seen("o2", giver: "m2"), rules, []).Decision.Points.ShouldBe(5);
    }

    [Fact]
    public void AFlaggedRewardIsHeld()
    {
        var (decision, _) = new LedgerState().Evaluate(Seen("o1", source: ObservationSource.Peer), Rules(), ["burst"]);
        decision.Verdict.ShouldBe(Verdict.Flagged);
        decision.Flags.ShouldBe(["burst"]);
    }

    [Fact]
    public void ARetriedObservationGetsItsFirstDecisionAndChangesNothing()
    {
        var rules = Rules(cap: 100);
        var (first, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        var (again, same) = state.Evaluate(Seen("o1"), rules, []);
        again.ShouldBe(first);
        same.ShouldBeSameAs(state);
    }

    [Fact]
    public void WithoutBudgetTheReservedPointsAreReleasedAndTheRewardDeclined()
    {
        var rules = Rules(cap: 10);
        var (decision, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        (decision, state) = state.Settle(decision.ObservationId, budgetReserved: false, rules);
        decision.Verdict.ShouldBe(Verdict.Declined);
        decision.Reason.ShouldBe(DeclineReason.BudgetExhausted);
        state.ReceivedIn("2026-11").ShouldBe(0);
        state.Evaluate(Seen("o2", giver: "m2"), rules, []).Decision.Points.ShouldBe(10);
    }

    [Fact]
    public void ASettledGrantWhoseBudgetChargeWasRefusedIsDeclinedOnTheRetryAndGivesEverythingBack()
    {
        // The batch settled the grant, then its budget charge was refused and its transaction rolled back; the retry
        // evaluates the same observation (its first decision comes back) and finds the budget spent.
        var rules = Rules(cap: 10, badges: [new Badge("first", "First", 10)]);
        var (decision, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        (decision, state) = state.Settle(decision.ObservationId, budgetReserved: true, rules);
        decision.BadgesEarned.Select(b => b.BadgeId).ShouldBe(["first"]);

        (decision, state) = state.Evaluate(Seen("o1"), rules, []);
        decision.Settled.ShouldBeTrue();
        (decision, state) = state.Settle(decision.ObservationId, budgetReserved: false, rules);
        decision.Verdict.ShouldBe(Verdict.Declined);
        decision.Reason.ShouldBe(DeclineReason.BudgetExhausted);
        decision.BadgesEarned.ShouldBeEmpty();
        state.ReceivedIn("2026-11").ShouldBe(0);
        state.LifetimeGranted.ShouldBe(0);
        state.Badges.ShouldBeEmpty();

        // A retry that finds the budget again keeps the first grant, counted once.
        var (kept, again) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        (kept, again) = again.Settle(kept.ObservationId, budgetReserved: true, rules);
        (kept, again) = again.Settle(kept.ObservationId, budgetReserved: true, rules);
        kept.Verdict.ShouldBe(Verdict.Granted);
        again.LifetimeGranted.ShouldBe(10);
        again.ReceivedIn("2026-11").ShouldBe(10);
    }

    [Fact]
    public void BadgesAreEarnedOnceWhenLifetimePointsCrossTheirThreshold()
    {
        var rules = Rules(badges: [new Badge("bronze", "Bronze", 15), new Badge("silver", "Silver", 100)]);
        var (d1, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        (d1, state) = state.Settle(d1.ObservationId, true, rules);
        d1.BadgesEarned.ShouldBeEmpty();
        var (d2, s2) = state.Evaluate(Seen("o2", giver: "m2"), rules, []);
        (d2, s2) = s2.Settle(d2.ObservationId, true, rules);
        d2.BadgesEarned.Select(b => b.BadgeId).ShouldBe(["bronze"]);
        var (d3, s3) = s2.Evaluate(Seen("o3", giver: "m3"), rules, []);
        (d3, _) = s3.Settle(d3.ObservationId, true, rules);
        d3.BadgesEarned.ShouldBeEmpty();
    }

    [Fact]
    public void ApprovingCountsThePointsAsGrantedAndRejectingReleasesThem()
    {
        var rules = Rules(cap: 100, approval: 20, badges: new Badge("b", "B", 40));
        var (pending, state) = new LedgerState().Evaluate(Seen("o1", behaviour: "mentors"), rules, []);
        (_, state) = state.Settle(pending.ObservationId, true, rules);
        var (approved, afterApproval) = state.Approve("o1", pending.Period, pending.Points, rules);
        approved.Verdict.ShouldBe(Verdict.Granted);
        approved.BadgesEarned.Select(b => b.BadgeId).ShouldBe(["b"]);
        afterApproval.LifetimeGranted.ShouldBe(50);
        afterApproval.Approve("o1", pending.Period, pending.Points, rules).Next.LifetimeGranted.ShouldBe(50);

        var (rejected, afterRejection) = state.Reject("o1", pending.Period, pending.Points, 1);
        rejected.Verdict.ShouldBe(Verdict.Rejected);
        afterRejection.ReceivedIn("2026-11").ShouldBe(0);
        afterRejection.LifetimeGranted.ShouldBe(0);
    }

    [Fact]
    public void ARevokedRewardGivesBackItsShareOfTheCapAndItsLifetimePointsOnce()
    {
        var rules = Rules(cap: 20, badges: new Badge("b", "B", 20));
        var state = new LedgerState();
        foreach (var (id, giver) in new[] { ("o1", "m1"), ("o2", "m2") })
        {
            Decision decision;
            (decision, state) = state.Evaluate(Seen(id, giver: giver), rules, []);
            (_, state) = state.Settle(decision.ObservationId, true, rules);
        }

        state.Badges.ShouldContain("b");
        state.Evaluate(Seen("o3", giver: "m3"), rules, []).Decision.Reason.ShouldBe(DeclineReason.CapReached);

        var (revoked, afterRevoke) = state.Revoke("o1", "2026-11", 10, 1, ["b"]);
        revoked.Verdict.ShouldBe(Verdict.Revoked);
        afterRevoke.ReceivedIn("2026-11").ShouldBe(10);
        afterRevoke.LifetimeGranted.ShouldBe(10);
        afterRevoke.Badges.ShouldBeEmpty();
        afterRevoke.Revoke("o1", "2026-11", 10, 1, ["b"]).Next.ShouldBeSameAs(afterRevoke);

        // What the revoked reward used of the cap can be earned again, and with it the badge.
        var (again, s4) = afterRevoke.Evaluate(Seen("o3", giver: "m3"), rules, []);
        again.Verdict.ShouldBe(Verdict.Granted);
        again.Points.ShouldBe(10);
        (again, _) = s4.Settle(again.ObservationId, true, rules);
        again.BadgesEarned.Select(b => b.BadgeId).ShouldBe(["b"]);
    }

    [Fact]
    public void ARevokedRewardKeepsItsGiversCooldown()
    {
        var rules = Rules(cooldownMinutes: 60);
        var (first, state) = new LedgerState().Evaluate(Seen("o1"), rules, []);
        (_, state) = state.Settle(first.ObservationId, true, rules);
        (_, state) = state.Revoke("o1", first.Period, first.Points, 1, []);
        state.Evaluate(Seen("o2", at: Noon.AddMinutes(10)), rules, []).Decision.Reason.ShouldBe(DeclineReason.Cooldown);
    }

    [Fact]
    public void RecentDecisionsAreBounded()
    {
        var rules = Rules();
        var state = new LedgerState();
        for (var i = 0; i < LedgerState.RecentLimit + 10; i++)
        {
            (_, state) = state.Evaluate(Seen($"o{i}", giver: ""), rules, []);
        }

        state.Recent.Count.ShouldBe(LedgerState.RecentLimit);
        state.Recent.ContainsKey("o0").ShouldBeFalse();
    }
}
