using System.Collections.Immutable;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Model;

[GenerateSerializer]
[Immutable]
public sealed record GoalDefinition([property: Id(0)] string GoalId, [property: Id(1)] GoalKind Kind, [property: Id(2)] string Description,
    [property: Id(3)] double Target, [property: Id(4)] string DimensionId);

[GenerateSerializer]
[Immutable]
public sealed record MilestoneDefinition([property: Id(0)] string MilestoneId, [property: Id(1)] string Name, [property: Id(2)] DateTimeOffset DueOn,
    [property: Id(3)] string GoalId, [property: Id(4)] double Target, [property: Id(5)] DateTimeOffset? ReachedAt = null);

/// <summary>An initiative's editable definition as it crosses a grain call: built once from the request, after validation.</summary>
[GenerateSerializer]
[Immutable]
public sealed record InitiativeDefinition(
    [property: Id(0)] string Name,
    [property: Id(1)] string Purpose,
    [property: Id(2)] string SponsorId,
    [property: Id(3)] ImmutableArray<string> Scope,
    [property: Id(4)] ImmutableArray<string> Dimensions,
    [property: Id(5)] ImmutableArray<string> TargetBehaviours,
    [property: Id(6)] ImmutableArray<GoalDefinition> Goals,
    [property: Id(7)] ImmutableArray<MilestoneDefinition> Milestones)
{
    public static InitiativeDefinition From(InitiativeDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return new(draft.Name, draft.Purpose, draft.SponsorId, [.. draft.ScopeOrgUnitIds], [.. draft.DimensionIds], [.. draft.TargetBehaviourIds],
            ToGoals(draft.Goals), ToMilestones(draft.Milestones));
    }

    /// <summary>An edit (the sponsor is not editable).</summary>
    public static InitiativeDefinition From(InitiativeChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return new(changes.Name, changes.Purpose, "", [.. changes.ScopeOrgUnitIds], [.. changes.DimensionIds], [.. changes.TargetBehaviourIds],
            ToGoals(changes.Goals), ToMilestones(changes.Milestones));
    }

    private static ImmutableArray<GoalDefinition> ToGoals(IEnumerable<Goal> goals) =>
        [.. goals.Select(g => new GoalDefinition(g.GoalId, g.Kind, g.Description, g.Target, g.DimensionId))];

    private static ImmutableArray<MilestoneDefinition> ToMilestones(IEnumerable<Milestone> milestones) =>
        [.. milestones.Select(m => new MilestoneDefinition(m.MilestoneId, m.Name, m.DueOn.ToDateTimeOffset(), m.GoalId, m.Target))];
}

/// <summary>One initiative, its definition, lifecycle and progress: the state of its grain (immutable; replaced per call).</summary>
[GenerateSerializer]
[Immutable]
public sealed record InitiativeState
{
    [Id(0)]
    public string InitiativeId { get; init; } = "";

    [Id(1)]
    public string ProposalKey { get; init; } = "";

    [Id(2)]
    public string Name { get; init; } = "";

    [Id(3)]
    public string Purpose { get; init; } = "";

    [Id(4)]
    public string SponsorId { get; init; } = "";

    [Id(5)]
    public string ChangeManagerId { get; init; } = "";

    [Id(6)]
    public ImmutableArray<string> Scope { get; init; } = [];

    [Id(7)]
    public ImmutableArray<string> Dimensions { get; init; } = [];

    [Id(8)]
    public ImmutableArray<string> TargetBehaviours { get; init; } = [];

    [Id(9)]
    public ImmutableArray<GoalDefinition> Goals { get; init; } = [];

    [Id(10)]
    public ImmutableArray<MilestoneDefinition> Milestones { get; init; } = [];

    [Id(11)]
    public InitiativeStatus Status { get; init; }

    [Id(12)]
    public DateTimeOffset? ProposedAt { get; init; }

    [Id(13)]
    public DateTimeOffset? SponsoredAt { get; init; }

    [Id(14)]
    public DateTimeOffset? ActivatedAt { get; init; }

    [Id(15)]
    public DateTimeOffset? ClosedAt { get; init; }

    // ---- Progress ----

    [Id(16)]
    public long DesiredObservations { get; init; }

    [Id(17)]
    public long UnacceptableObservations { get; init; }

    /// <summary>Period ("yyyy-MM") → the people in scope who showed a desired target behaviour in it.</summary>
    [Id(18)]
    public ImmutableDictionary<string, ImmutableSortedSet<string>> PeopleByPeriod { get; init; } =
        ImmutableDictionary<string, ImmutableSortedSet<string>>.Empty.WithComparers(StringComparer.Ordinal);

    [Id(19)]
    public int PeopleInScope { get; init; }

    // Id 20 held survey scores typed by hand (retired: they come from Baselines, see Survey).

    /// <summary>Goal figures of adoption and count goals when the initiative became active: the "before" of success stories (survey goals: <see cref="SurveyAtStart"/>).</summary>
    [Id(21)]
    public ImmutableDictionary<string, double> Baseline { get; init; } = ImmutableDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal);

    [Id(22)]
    public bool AtRisk { get; init; }

    /// <summary>
    /// The observation log's checkpoint: every observation written by a transaction below this id (xid8) is folded, and no
    /// such transaction can still commit; the next fold reads from here up to the current snapshot's xmin.
    /// </summary>
    [Id(23)]
    public ulong FoldedBelowXid { get; init; }

    /// <summary>The checkpoint at activation: an edit of the scope or target behaviours refolds the observation log from here.</summary>
    [Id(24)]
    public ulong ActivatedFromXid { get; init; }

    /// <summary>Idempotency keys of lifecycle writes already applied (key → operation).</summary>
    [Id(25)]
    public ImmutableDictionary<string, string> AppliedKeys { get; init; } = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Survey-score goal → the latest published score of its dimension for the scope (no entry: no score yet).</summary>
    [Id(26)]
    public ImmutableDictionary<string, ScoreReading> Survey { get; init; } = ImmutableDictionary<string, ScoreReading>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Survey-score goal → the score published when the initiative became active (no entry: there was none).</summary>
    [Id(27)]
    public ImmutableDictionary<string, ScoreReading> SurveyAtStart { get; init; } =
        ImmutableDictionary<string, ScoreReading>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>How many published assessments this service knew when <see cref="Survey"/> was read (a new one: read again).</summary>
    [Id(28)]
    public long SurveyPublicationsSeen { get; init; }

    public bool Exists => InitiativeId.Length > 0;
}
