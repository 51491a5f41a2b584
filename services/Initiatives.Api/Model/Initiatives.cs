using System.Collections.Immutable;
using System.Globalization;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Initiatives.Api.Model;

/// <summary>An observation as the initiative folds it.</summary>
public sealed record FoldedObservation(string ObservationId, string EmployeeId, string BehaviourId, Polarity Polarity, DateTimeOffset ObservedAt);

/// <summary>The lifecycle and progress rules of an initiative (no I/O).</summary>
public static class Initiatives
{
    public const int MaxNameLength = 200;

    /// <summary>The largest goal or milestone target (a count of observations).</summary>
    public const double MaxTarget = 1_000_000_000;

    /// <summary>The top of the agreement scale (1 to 5) of the surveys a survey-score goal reads.</summary>
    public const double MaxSurveyScore = 5;

    public static string Period(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>Field violations of a proposal (field names relative to the request: "initiative.name", …).</summary>
    public static List<(string Field, string Description)> Validate(InitiativeDraft? draft)
    {
        var violations = new List<(string, string)>();
        if (draft is null)
        {
            violations.Add(("initiative", "The initiative is required."));
            return violations;
        }

        ValidateDefinition(draft.Name, draft.Purpose, draft.SponsorId, draft.ScopeOrgUnitIds, draft.TargetBehaviourIds, draft.Goals, draft.Milestones, violations);
        return violations;
    }

    /// <summary>Field violations of an edit (the same rules as a proposal's, without the sponsor and change manager, which are not editable).</summary>
    public static List<(string Field, string Description)> Validate(InitiativeChanges? changes)
    {
        var violations = new List<(string, string)>();
        if (changes is null)
        {
            violations.Add(("initiative", "The initiative's definition is required."));
            return violations;
        }

        ValidateDefinition(changes.Name, changes.Purpose, null, changes.ScopeOrgUnitIds, changes.TargetBehaviourIds, changes.Goals, changes.Milestones, violations);
        return violations;
    }

    private static void ValidateDefinition(string name, string purpose, string? sponsorId, RepeatedField<string> scope, RepeatedField<string> behaviours,
        RepeatedField<Goal> goals, RepeatedField<Milestone> milestones, List<(string, string)> violations)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > MaxNameLength)
        {
            violations.Add(("initiative.name", $"A name of 1 to {MaxNameLength} characters is required."));
        }

        if (string.IsNullOrWhiteSpace(purpose))
        {
            violations.Add(("initiative.purpose", "The purpose is required."));
        }

        if (sponsorId is not null && string.IsNullOrWhiteSpace(sponsorId))
        {
            violations.Add(("initiative.sponsor_id", "The executive sponsor is required."));
        }

        if (scope.Count == 0)
        {
            violations.Add(("initiative.scope_org_unit_ids", "At least one org unit is in scope."));
        }

        if (behaviours.Count == 0)
        {
            violations.Add(("initiative.target_behaviour_ids", "At least one target behaviour is required."));
        }

        var goalIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < goals.Count; i++)
        {
            var goal = goals[i];
            if (string.IsNullOrWhiteSpace(goal.GoalId) || !goalIds.Add(goal.GoalId))
            {
                violations.Add(($"initiative.goals[{i}].goal_id", "A goal id, unique within the initiative, is required."));
            }

            if (goal.Kind == GoalKind.Unspecified)
            {
                violations.Add(($"initiative.goals[{i}].kind", "The goal's kind is required."));
            }

            if (goal.Kind == GoalKind.SurveyScore && string.IsNullOrWhiteSpace(goal.DimensionId))
            {
                violations.Add(($"initiative.goals[{i}].dimension_id", "A survey-score goal names the culture dimension whose published score it reads."));
            }

            // Written so that NaN fails too.
            if (!(goal.Target > 0 && goal.Target <= MaxTarget) || (goal.Kind == GoalKind.Adoption && goal.Target > 1)
                || (goal.Kind == GoalKind.SurveyScore && goal.Target > MaxSurveyScore))
            {
                violations.Add(($"initiative.goals[{i}].target",
                    $"A positive number: adoption a share up to 1, a survey score up to {MaxSurveyScore}, a count up to {MaxTarget}."));
            }
        }

        var milestoneIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < milestones.Count; i++)
        {
            var milestone = milestones[i];
            if (string.IsNullOrWhiteSpace(milestone.MilestoneId) || !milestoneIds.Add(milestone.MilestoneId))
            {
                violations.Add(($"initiative.milestones[{i}].milestone_id", "A milestone id, unique within the initiative, is required."));
            }

            if (milestone.DueOn is null)
            {
                violations.Add(($"initiative.milestones[{i}].due_on", "The due date is required."));
            }

            if (!goalIds.Contains(milestone.GoalId))
            {
                violations.Add(($"initiative.milestones[{i}].goal_id", "The milestone names one of the initiative's goals."));
            }

            if (!(milestone.Target > 0 && milestone.Target <= MaxTarget))
            {
                violations.Add(($"initiative.milestones[{i}].target", $"A positive number up to {MaxTarget}."));
            }
        }
    }

    public static InitiativeState Propose(string initiativeId, string proposalKey, InitiativeDraft draft, string changeManagerId, DateTimeOffset now) =>
        Propose(initiativeId, proposalKey, InitiativeDefinition.From(draft), changeManagerId, now);

    public static InitiativeState Propose(string initiativeId, string proposalKey, InitiativeDefinition draft, string changeManagerId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return new()
        {
            InitiativeId = initiativeId,
            ProposalKey = proposalKey,
            Name = draft.Name.Trim(),
            Purpose = draft.Purpose.Trim(),
            SponsorId = draft.SponsorId,
            ChangeManagerId = changeManagerId,
            Scope = [.. draft.Scope.Distinct(StringComparer.Ordinal)],
            Dimensions = [.. draft.Dimensions.Distinct(StringComparer.Ordinal)],
            TargetBehaviours = [.. draft.TargetBehaviours.Distinct(StringComparer.Ordinal)],
            Goals = draft.Goals,
            Milestones = draft.Milestones,
            Status = InitiativeStatus.Proposed,
            ProposedAt = now,
        };
    }

    /// <summary>Only the named executive sponsors, and only a proposed initiative.</summary>
    public static InitiativeState Sponsor(InitiativeState state, Caller caller, DateTimeOffset now)
    {
        RequireExists(state);
        if (!caller.IsInRole(Roles.Executive) || !string.Equals(caller.Subject, state.SponsorId, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's named executive sponsor can sponsor it."));
        }

        if (state.Status == InitiativeStatus.Sponsored)
        {
            return state;
        }

        RequireStatus(state, InitiativeStatus.Proposed);
        return state with { Status = InitiativeStatus.Sponsored, SponsoredAt = now };
    }

    /// <summary>The change manager starts a sponsored initiative; the goal figures at that moment are its baseline.</summary>
    public static InitiativeState Activate(InitiativeState state, Caller caller, DateTimeOffset now, ulong foldFromXid)
    {
        RequireManager(state, caller);
        if (state.Status == InitiativeStatus.Active)
        {
            return state;
        }

        RequireStatus(state, InitiativeStatus.Sponsored);
        var active = state with { Status = InitiativeStatus.Active, ActivatedAt = now, FoldedBelowXid = foldFromXid, ActivatedFromXid = foldFromXid };
        return active with
        {
            Baseline = active.Goals.Where(g => g.Kind != GoalKind.SurveyScore).ToImmutableDictionary(g => g.GoalId, g => GoalValue(active, g, now), StringComparer.Ordinal),
        };
    }

    public static InitiativeState Complete(InitiativeState state, Caller caller, DateTimeOffset now)
    {
        RequireManager(state, caller);
        if (state.Status == InitiativeStatus.Completed)
        {
            return state;
        }

        RequireStatus(state, InitiativeStatus.Active);
        return state with { Status = InitiativeStatus.Completed, ClosedAt = now };
    }

    /// <summary>The change manager or the sponsor cancels an initiative that is not closed yet.</summary>
    public static InitiativeState Cancel(InitiativeState state, Caller caller, DateTimeOffset now)
    {
        RequireExists(state);
        if (!IsManager(state, caller) && !string.Equals(caller.Subject, state.SponsorId, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's change manager or sponsor can cancel it."));
        }

        if (state.Status == InitiativeStatus.Cancelled)
        {
            return state;
        }

        if (state.Status == InitiativeStatus.Completed)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "A completed initiative cannot be cancelled."));
        }

        return state with { Status = InitiativeStatus.Cancelled, ClosedAt = now };
    }

    /// <summary>
    /// The survey-score goals' figures from the published assessments Baselines sent (<see cref="SurveyScores.Read"/>), for
    /// <paramref name="scopeUnits"/> (the scope's units, none below another); an active or closed initiative's "before" is the
    /// score published by the time it became active. <paramref name="publicationsSeen"/>: how many assessments were known.
    /// </summary>
    public static InitiativeState ReadSurvey(InitiativeState state, IReadOnlyCollection<PublishedAssessment> published, IReadOnlyCollection<string> scopeUnits,
        long publicationsSeen)
    {
        var goals = state.Goals.Where(g => g.Kind == GoalKind.SurveyScore).ToList();
        ImmutableDictionary<string, ScoreReading> Readings(DateTimeOffset? publishedBy) => goals
            .Select(g => (g.GoalId, Reading: SurveyScores.Read(published, scopeUnits, g.DimensionId, publishedBy)))
            .Where(r => r.Reading is not null)
            .ToImmutableDictionary(r => r.GoalId, r => r.Reading!, StringComparer.Ordinal);
        return state with
        {
            Survey = Readings(null),
            SurveyAtStart = state.ActivatedAt is { } started ? Readings(started) : ImmutableDictionary<string, ScoreReading>.Empty.WithComparers(StringComparer.Ordinal),
            SurveyPublicationsSeen = publicationsSeen,
        };
    }

    /// <summary>Whether two states' survey readings differ (the figures or the assessments they cite).</summary>
    public static bool SurveyChanged(InitiativeState before, InitiativeState after) =>
        !SameReadings(before.Survey, after.Survey) || !SameReadings(before.SurveyAtStart, after.SurveyAtStart);

    private static bool SameReadings(ImmutableDictionary<string, ScoreReading> a, ImmutableDictionary<string, ScoreReading> b) =>
        a.Count == b.Count && a.All(r => b.TryGetValue(r.Key, out var other) && r.Value == other);

    /// <summary>
    /// The change manager replaces the editable definition of an initiative that is not closed. Milestones keep their reached
    /// date when their id, goal and target are unchanged; baselines stay for goals of the same id and kind (survey readings are read again).
    /// When an active initiative's scope or target behaviours change, its observation progress is reset to the activation
    /// checkpoint, to be folded again from the observation log (<see cref="NeedsRefold"/>).
    /// </summary>
    public static InitiativeState Update(InitiativeState state, Caller caller, InitiativeChanges changes) =>
        Update(state, caller, InitiativeDefinition.From(changes));

    /// <inheritdoc cref="Update(InitiativeState, Caller, InitiativeChanges)"/>
    public static InitiativeState Update(InitiativeState state, Caller caller, InitiativeDefinition changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        RequireManager(state, caller);
        if (state.Status is not (InitiativeStatus.Proposed or InitiativeStatus.Sponsored or InitiativeStatus.Active))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The initiative is {state.Status}: only a proposed, sponsored or active one is edited."));
        }

        var goals = changes.Goals;
        bool Kept(string goalId) => state.Goals.Any(old => string.Equals(old.GoalId, goalId, StringComparison.Ordinal)
            && goals.Any(g => string.Equals(g.GoalId, goalId, StringComparison.Ordinal) && g.Kind == old.Kind));
        var milestones = changes.Milestones.Select(m =>
        {
            var old = state.Milestones.FirstOrDefault(o => string.Equals(o.MilestoneId, m.MilestoneId, StringComparison.Ordinal));
            var reached = old is not null && string.Equals(old.GoalId, m.GoalId, StringComparison.Ordinal) && old.Target.Equals(m.Target) && Kept(m.GoalId)
                ? old.ReachedAt : null;
            return m with { ReachedAt = reached };
        }).ToImmutableArray();
        var next = state with
        {
            Name = changes.Name.Trim(),
            Purpose = changes.Purpose.Trim(),
            Scope = [.. changes.Scope.Distinct(StringComparer.Ordinal)],
            Dimensions = [.. changes.Dimensions.Distinct(StringComparer.Ordinal)],
            TargetBehaviours = [.. changes.TargetBehaviours.Distinct(StringComparer.Ordinal)],
            Goals = goals,
            Milestones = milestones,
            Baseline = state.Baseline.Where(b => Kept(b.Key)).ToImmutableDictionary(StringComparer.Ordinal),
        };
        return NeedsRefold(state, next)
            ? next with
            {
                DesiredObservations = 0,
                UnacceptableObservations = 0,
                PeopleByPeriod = ImmutableDictionary<string, ImmutableSortedSet<string>>.Empty.WithComparers(StringComparer.Ordinal),
                FoldedBelowXid = state.ActivatedFromXid,
            }
            : next;
    }

    /// <summary>Whether an edit changed what an active initiative folds (its scope or target behaviours): its progress is folded again.</summary>
    public static bool NeedsRefold(InitiativeState before, InitiativeState after) =>
        after.Status == InitiativeStatus.Active
        && (!before.Scope.ToHashSet(StringComparer.Ordinal).SetEquals(after.Scope) || !before.TargetBehaviours.ToHashSet(StringComparer.Ordinal).SetEquals(after.TargetBehaviours));

    /// <summary>An active initiative's adoption and count goals added by an edit get their baseline (the "before" of stories): the figure now.</summary>
    public static InitiativeState FillBaseline(InitiativeState state, DateTimeOffset now) =>
        state.Status != InitiativeStatus.Active ? state : state with
        {
            Baseline = state.Goals.Where(g => g.Kind != GoalKind.SurveyScore && !state.Baseline.ContainsKey(g.GoalId))
                .Aggregate(state.Baseline, (baseline, g) => baseline.SetItem(g.GoalId, GoalValue(state, g, now))),
        };

    public static bool IsManager(InitiativeState state, Caller caller) =>
        caller.IsInRole(Roles.ChangeManager) && string.Equals(caller.Subject, state.ChangeManagerId, StringComparison.Ordinal);

    /// <summary>Who may read an initiative's full detail: hr, executives, its change manager; others see active and closed ones.</summary>
    public static bool CanEdit(InitiativeState state, Caller caller) => IsManager(state, caller);

    /// <summary>
    /// Folds observations (already filtered to the initiative's target behaviours and scope) into the progress, then
    /// re-evaluates milestones and risk. Returns the new state and the milestones reached by this fold.
    /// </summary>
    public static (InitiativeState Next, ImmutableArray<MilestoneDefinition> Reached) Fold(InitiativeState state, IEnumerable<FoldedObservation> observations,
        int peopleInScope, DateTimeOffset now)
    {
        var desired = state.DesiredObservations;
        var unacceptable = state.UnacceptableObservations;
        var people = state.PeopleByPeriod.ToBuilder();
        foreach (var observation in observations)
        {
            if (!state.TargetBehaviours.Contains(observation.BehaviourId, StringComparer.Ordinal))
            {
                continue;
            }

            if (observation.Polarity == Polarity.Unacceptable)
            {
                unacceptable++;
                continue;
            }

            desired++;
            var period = Period(observation.ObservedAt);
            people[period] = (people.TryGetValue(period, out var set) ? set : ImmutableSortedSet.Create<string>(StringComparer.Ordinal)).Add(observation.EmployeeId);
        }

        var next = state with
        {
            DesiredObservations = desired,
            UnacceptableObservations = unacceptable,
            PeopleByPeriod = people.ToImmutable(),
            PeopleInScope = peopleInScope,
        };
        return Evaluate(next, now);
    }

    /// <summary>Marks milestones whose goal figure reached their target, and whether a missed milestone puts the initiative at risk.</summary>
    public static (InitiativeState Next, ImmutableArray<MilestoneDefinition> Reached) Evaluate(InitiativeState state, DateTimeOffset now)
    {
        var reached = ImmutableArray.CreateBuilder<MilestoneDefinition>();
        var milestones = state.Milestones.Select(milestone =>
        {
            if (milestone.ReachedAt is not null || state.Status != InitiativeStatus.Active)
            {
                return milestone;
            }

            var goal = state.Goals.FirstOrDefault(g => string.Equals(g.GoalId, milestone.GoalId, StringComparison.Ordinal));
            if (goal is null || !HasFigure(state, goal) || GoalValue(state, goal, now) < milestone.Target)
            {
                return milestone;
            }

            var done = milestone with { ReachedAt = now };
            reached.Add(done);
            return done;
        }).ToImmutableArray();
        var atRisk = state.Status == InitiativeStatus.Active && milestones.Any(m => m.ReachedAt is null && m.DueOn < now);
        return (state with { Milestones = milestones, AtRisk = atRisk }, reached.ToImmutable());
    }

    /// <summary>Adoption in <paramref name="period"/> (people showing / people in scope; 0 when nobody is in scope).</summary>
    public static double Adoption(InitiativeState state, string period) =>
        state.PeopleInScope == 0 ? 0 : Math.Min(1, (double)(state.PeopleByPeriod.TryGetValue(period, out var people) ? people.Count : 0) / state.PeopleInScope);

    /// <summary>The goal's figure now (a survey-score goal with no published score yet: 0, and <see cref="HasFigure"/> is false).</summary>
    public static double GoalValue(InitiativeState state, GoalDefinition goal, DateTimeOffset now) => goal.Kind switch
    {
        GoalKind.Adoption => Adoption(state, Period(now)),
        GoalKind.Count => state.DesiredObservations,
        GoalKind.SurveyScore => state.Survey.TryGetValue(goal.GoalId, out var reading) ? reading.Score : 0,
        _ => 0,
    };

    /// <summary>False for a survey-score goal while no reportable score of its dimension has been published for the scope.</summary>
    public static bool HasFigure(InitiativeState state, GoalDefinition goal) => goal.Kind != GoalKind.SurveyScore || state.Survey.ContainsKey(goal.GoalId);

    /// <summary>The goal's figure as the contracts carry it, with the published assessment a survey-score goal reads.</summary>
    public static GoalFigure Figure(InitiativeState state, GoalDefinition goal, DateTimeOffset now) => new()
    {
        GoalId = goal.GoalId,
        Value = GoalValue(state, goal, now),
        Target = goal.Target,
        Survey = goal.Kind == GoalKind.SurveyScore ? ToProto(state.Survey.GetValueOrDefault(goal.GoalId)) : null,
    };

    public static V1.SurveyReading? ToProto(ScoreReading? reading) => reading is null ? null : new V1.SurveyReading
    {
        AssessmentId = reading.AssessmentId,
        AssessmentTitle = reading.Title,
        MeasuredAt = Timestamp.FromDateTimeOffset(reading.MeasuredAt),
        PublishedAt = Timestamp.FromDateTimeOffset(reading.PublishedAt),
        Respondents = reading.Respondents,
        Score = reading.Score,
    };

    public static InitiativeProgressed Progressed(InitiativeState state, DateTimeOffset now)
    {
        var period = Period(now);
        var progressed = new InitiativeProgressed
        {
            InitiativeId = state.InitiativeId,
            DesiredObservations = state.DesiredObservations,
            UnacceptableObservations = state.UnacceptableObservations,
            Period = period,
            Adoption = Adoption(state, period),
            PeopleInScope = state.PeopleInScope,
            AtRisk = state.AtRisk,
            ProgressedAt = Timestamp.FromDateTimeOffset(now),
        };
        progressed.Goals.AddRange(state.Goals.Select(g => Figure(state, g, now)));
        return progressed;
    }

    public static MilestoneReached MilestoneEvent(InitiativeState state, MilestoneDefinition milestone, DateTimeOffset now) => new()
    {
        InitiativeId = state.InitiativeId,
        MilestoneId = milestone.MilestoneId,
        Name = milestone.Name,
        GoalId = milestone.GoalId,
        Value = GoalValue(state, state.Goals.First(g => string.Equals(g.GoalId, milestone.GoalId, StringComparison.Ordinal)), now),
        Target = milestone.Target,
        DueOn = Timestamp.FromDateTimeOffset(milestone.DueOn),
        ReachedAt = Timestamp.FromDateTimeOffset(now),
    };

    private static void RequireExists(InitiativeState state)
    {
        if (!state.Exists)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }
    }

    private static void RequireManager(InitiativeState state, Caller caller)
    {
        RequireExists(state);
        if (!IsManager(state, caller))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's change manager can change it."));
        }
    }

    private static void RequireStatus(InitiativeState state, InitiativeStatus expected)
    {
        if (state.Status != expected)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The initiative is {state.Status}, not {expected}."));
        }
    }
}
