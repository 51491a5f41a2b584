using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Rules = Transformation.Initiatives.Api.Model.Initiatives;

namespace Transformation.Initiatives.UnitTests;

public sealed class InitiativeRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly Caller Manager = new("cm-1", new HashSet<string> { Roles.ChangeManager });
    private static readonly Caller Sponsor = new("exec-1", new HashSet<string> { Roles.Executive });
    private static readonly Caller OtherExecutive = new("exec-2", new HashSet<string> { Roles.Executive });

    private static InitiativeDraft Draft() => new()
    {
        Name = "Customer first",
        Purpose = "Put the customer at the centre",
        SponsorId = "exec-1",
        ScopeOrgUnitIds = { "sales" },
        TargetBehaviourIds = { "helps-customers" },
        Goals =
        {
            new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Target = 0.5 },
            new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 3 },
        },
        Milestones = { new Milestone { MilestoneId = "m1", Name = "Half", GoalId = "adoption", Target = 0.5, DueOn = Timestamp.FromDateTimeOffset(Now.AddDays(30)) } },
    };

    private static InitiativeState Active(int peopleInScope = 4)
    {
        var state = Rules.Propose("i-1", "k", Draft(), "cm-1", Now);
        state = Rules.Sponsor(state, Sponsor, Now);
        return Rules.Activate(state, Manager, Now, 1) with { PeopleInScope = peopleInScope };
    }

    [Fact]
    public void TheLifecycleRunsProposedSponsoredActiveCompleted()
    {
        var state = Rules.Propose("i-1", "k", Draft(), "cm-1", Now);
        state.Status.ShouldBe(InitiativeStatus.Proposed);
        state = Rules.Sponsor(state, Sponsor, Now);
        state.Status.ShouldBe(InitiativeStatus.Sponsored);
        state = Rules.Activate(state, Manager, Now, 1);
        state.Status.ShouldBe(InitiativeStatus.Active);
        Rules.Complete(state, Manager, Now).Status.ShouldBe(InitiativeStatus.Completed);
    }

    [Fact]
    public void OnlyTheNamedExecutiveSponsorsAndOnlyTheManagerActivates()
    {
        var state = Rules.Propose("i-1", "k", Draft(), "cm-1", Now);
        Should.Throw<RpcException>(() => Rules.Sponsor(state, OtherExecutive, Now)).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        Should.Throw<RpcException>(() => Rules.Sponsor(state, new Caller("exec-1", new HashSet<string> { Roles.Employee }), Now))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        Should.Throw<RpcException>(() => Rules.Activate(state, Manager, Now, 1)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var sponsored = Rules.Sponsor(state, Sponsor, Now);
        Should.Throw<RpcException>(() => Rules.Activate(sponsored, new Caller("cm-2", new HashSet<string> { Roles.ChangeManager }), Now, 1))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public void ACompletedInitiativeCannotBeCancelled()
    {
        var completed = Rules.Complete(Active(), Manager, Now);
        Should.Throw<RpcException>(() => Rules.Cancel(completed, Sponsor, Now)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        Rules.Cancel(Active(), Sponsor, Now).Status.ShouldBe(InitiativeStatus.Cancelled);
    }

    [Fact]
    public void AdoptionCountsDistinctPeopleInScopePerPeriodAndReachesTheMilestone()
    {
        var observations = new[]
        {
            new FoldedObservation("o1", "e1", "helps-customers", Polarity.Desired, Now),
            new FoldedObservation("o2", "e1", "helps-customers", Polarity.Desired, Now),
            new FoldedObservation("o3", "e2", "helps-customers", Polarity.Desired, Now),
            new FoldedObservation("o4", "e3", "other", Polarity.Desired, Now),
            new FoldedObservation("o5", "e4", "helps-customers", Polarity.Unacceptable, Now),
            new FoldedObservation("o6", "e4", "helps-customers", Polarity.Desired, Now.AddMonths(-1)),
        };
        var (next, reached) = Rules.Fold(Active(), observations, 4, Now);
        next.DesiredObservations.ShouldBe(4);
        next.UnacceptableObservations.ShouldBe(1);
        Rules.Adoption(next, "2026-11").ShouldBe(0.5);
        Rules.Adoption(next, "2026-10").ShouldBe(0.25);
        reached.Single().MilestoneId.ShouldBe("m1");
        next.Milestones.Single().ReachedAt.ShouldBe(Now);

        var (again, none) = Rules.Fold(next, [new FoldedObservation("o7", "e3", "helps-customers", Polarity.Desired, Now)], 4, Now);
        none.ShouldBeEmpty();
        Rules.Adoption(again, "2026-11").ShouldBe(0.75);
    }

    [Fact]
    public void AMissedMilestoneDatePutsTheInitiativeAtRisk()
    {
        var (state, _) = Rules.Evaluate(Active(), Now.AddDays(31));
        state.AtRisk.ShouldBeTrue();
        Rules.Adoption(state with { PeopleInScope = 0 }, "2026-11").ShouldBe(0);
    }

    private static InitiativeChanges Changes(Action<InitiativeChanges>? change = null)
    {
        var draft = Draft();
        var changes = new InitiativeChanges
        {
            Name = draft.Name, Purpose = draft.Purpose, ScopeOrgUnitIds = { draft.ScopeOrgUnitIds }, TargetBehaviourIds = { draft.TargetBehaviourIds },
            Goals = { draft.Goals }, Milestones = { draft.Milestones },
        };
        change?.Invoke(changes);
        return changes;
    }

    [Fact]
    public void OnlyTheManagerEditsAndOnlyAnOpenInitiative()
    {
        var active = Active();
        Should.Throw<RpcException>(() => Rules.Update(active, new Caller("cm-2", new HashSet<string> { Roles.ChangeManager }), Changes()))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        Should.Throw<RpcException>(() => Rules.Update(active, Sponsor, Changes())).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var completed = Rules.Complete(active, Manager, Now);
        Should.Throw<RpcException>(() => Rules.Update(completed, Manager, Changes())).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var cancelled = Rules.Cancel(Rules.Propose("i-2", "k", Draft(), "cm-1", Now), Manager, Now);
        Should.Throw<RpcException>(() => Rules.Update(cancelled, Manager, Changes())).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        Rules.Update(Rules.Propose("i-3", "k", Draft(), "cm-1", Now), Manager, Changes(c => c.Name = "Renamed")).Name.ShouldBe("Renamed");
    }

    [Fact]
    public void AnEditOfScopeOrBehavioursResetsProgressToTheActivationCheckpointAndKeepsWhatStillHolds()
    {
        var (active, _) = Rules.Fold(Active(),
            [new FoldedObservation("o1", "e1", "helps-customers", Polarity.Desired, Now), new FoldedObservation("o2", "e2", "helps-customers", Polarity.Desired, Now)],
            4, Now);
        active = active with { FoldedBelowXid = 99 };
        active.Milestones.Single().ReachedAt.ShouldNotBeNull();

        // Goals only: progress stays; the milestone (same id, goal and target) stays reached.
        var goalsOnly = Rules.Update(active, Manager, Changes(c => c.Goals[1].Target = 5));
        Rules.NeedsRefold(active, goalsOnly).ShouldBeFalse();
        (goalsOnly.DesiredObservations, goalsOnly.FoldedBelowXid).ShouldBe((2L, 99UL));
        goalsOnly.Milestones.Single().ReachedAt.ShouldNotBeNull();
        goalsOnly.Goals[1].Target.ShouldBe(5);

        // A new milestone target is evaluated again.
        Rules.Update(active, Manager, Changes(c => c.Milestones[0].Target = 0.75)).Milestones.Single().ReachedAt.ShouldBeNull();

        // A wider scope: folded again from the activation checkpoint.
        var wider = Rules.Update(active, Manager, Changes(c => c.ScopeOrgUnitIds.Add("ops")));
        Rules.NeedsRefold(active, wider).ShouldBeTrue();
        (wider.DesiredObservations, wider.PeopleByPeriod.Count, wider.FoldedBelowXid).ShouldBe((0L, 0, 1UL));

        // A removed goal takes its baseline along; a goal added to an active initiative gets one now.
        var regoaled = Rules.FillBaseline(Rules.Update(active, Manager, Changes(c =>
        {
            c.Goals.RemoveAt(1);
            c.Goals.Add(new Goal { GoalId = "more", Kind = GoalKind.Count, Target = 9 });
        })), Now);
        regoaled.Baseline.Keys.Order(StringComparer.Ordinal).ShouldBe(["adoption", "more"]);
        regoaled.Baseline["more"].ShouldBe(2);
    }

    [Fact]
    public void ValidationNamesEveryBadField()
    {
        var draft = Draft();
        draft.Name = "";
        draft.Goals[0].Target = 2;
        draft.Milestones[0].GoalId = "nope";
        Rules.Validate(draft).Select(v => v.Field).ShouldBe(["initiative.name", "initiative.goals[0].target", "initiative.milestones[0].goal_id"], ignoreOrder: true);
    }

    [Fact]
    public void TargetsAndScoresOutOfRangeOrNotNumbersAreFieldErrors()
    {
        var draft = Draft();
        draft.Goals[0].Target = double.NaN;
        draft.Goals[1].Target = double.PositiveInfinity;
        draft.Milestones[0].Target = double.NaN;
        Rules.Validate(draft).Select(v => v.Field).ShouldBe(
            ["initiative.goals[0].target", "initiative.goals[1].target", "initiative.milestones[0].target"], ignoreOrder: true);
    }

    [Fact]
    public void ObservationsAreCheckedAgainstTheCatalogueAndDirectoryCopies()
    {
        var input = new ObservationInput
        {
            IdempotencyKey = "k", EmployeeId = "e1", BehaviourId = "b1", Source = ObservationSource.Manager, ObserverId = "m1",
            ObservedAt = Timestamp.FromDateTimeOffset(Now), Polarity = Polarity.Desired,
        };
        var references = new References(
            new Dictionary<string, CatalogueEntry> { ["b1"] = new("b1", 1, Polarity.Unacceptable, false) },
            new Dictionary<string, DirectoryEntry> { ["m1"] = new("m1", "u", true, ["u"]) },
            new Dictionary<string, InitiativeEntry>());
        var violations = new List<(string Field, string Description)>();
        Observations.ValidateReferences(input, "observations[2].", references, violations);
        violations.Select(v => v.Field).ShouldBe(["observations[2].polarity", "observations[2].employee_id"]);

        var shape = new List<(string Field, string Description)>();
        Observations.ValidateShape(new ObservationInput { EmployeeId = "e1", BehaviourId = "b1", Source = ObservationSource.Manager, ObserverId = "m1" },
            "observation.", new Caller("e9", new HashSet<string> { Roles.Employee }), Now, shape);
        shape.Select(v => v.Field).ShouldBe(["observation.idempotency_key", "observation.observed_at"]);
    }

    [Fact]
    public void NobodyRecordsAnObservationOfThemselves()
    {
        var now = Timestamp.FromDateTimeOffset(Now.AddMinutes(-1));
        var manager = new Caller("cm-1", new HashSet<string> { Roles.ChangeManager, Roles.Employee });
        List<string> Fields(ObservationInput input, Caller caller)
        {
            var violations = new List<(string Field, string Description)>();
            Observations.ValidateShape(input, "observation.", caller, Now, violations);
            return violations.Select(v => v.Field).ToList();
        }

        // The change manager about themself, under any source.
        Fields(new() { IdempotencyKey = "k", EmployeeId = "cm-1", BehaviourId = "b1", Source = ObservationSource.Manager, ObserverId = "cm-2", ObservedAt = now }, manager)
            .ShouldBe(["observation.employee_id"]);
        Fields(new() { IdempotencyKey = "k", EmployeeId = "cm-1", BehaviourId = "b1", Source = ObservationSource.SystemIntegration, ObservedAt = now }, manager)
            .ShouldBe(["observation.employee_id"]);
        // An observer about themself.
        Fields(new() { IdempotencyKey = "k", EmployeeId = "e2", BehaviourId = "b1", Source = ObservationSource.Manager, ObserverId = "e2", ObservedAt = now }, manager)
            .ShouldBe(["observation.observer_id"]);
        // The change manager recording a colleague's nomination is fine.
        Fields(new() { IdempotencyKey = "k", EmployeeId = "e2", BehaviourId = "b1", Source = ObservationSource.Peer, ObserverId = "e1", ObservedAt = now }, manager)
            .ShouldBeEmpty();
    }

    [Fact]
    public void AnObservationInAnInitiativeIsOfSomeoneInItsScope()
    {
        var input = new ObservationInput
        {
            IdempotencyKey = "k", EmployeeId = "e1", BehaviourId = "b1", Source = ObservationSource.Manager, ObserverId = "m1",
            ObservedAt = Timestamp.FromDateTimeOffset(Now), InitiativeId = "i1",
        };
        References With(string unitChainOfE1) => new(
            new Dictionary<string, CatalogueEntry> { ["b1"] = new("b1", 1, Polarity.Desired, false) },
            new Dictionary<string, DirectoryEntry>
            {
                ["e1"] = new("e1", unitChainOfE1.Split('/')[0], true, unitChainOfE1.Split('/')),
                ["m1"] = new("m1", "org", true, ["org"]),
            },
            new Dictionary<string, InitiativeEntry> { ["i1"] = new(InitiativeStatus.Active, ["sales"]) });
        List<string> Fields(References references)
        {
            var violations = new List<(string Field, string Description)>();
            Observations.ValidateReferences(input, "observation.", references, violations);
            return violations.Select(v => v.Field).ToList();
        }

        Fields(With("sales/org")).ShouldBeEmpty();
        Fields(With("sales-north/sales/org")).ShouldBeEmpty();
        Fields(With("ops/org")).ShouldBe(["observation.employee_id"]);
    }
}
