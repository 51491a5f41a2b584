using System.Collections.Immutable;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Model;

public sealed record GoalDefinition(string GoalId, GoalKind Kind, string Description, double Target, string DimensionId);

public sealed record MilestoneDefinition(string MilestoneId, string Name, DateTimeOffset DueOn, string GoalId, double Target, DateTimeOffset? ReachedAt = null);

/// <summary>One initiative, its definition, lifecycle and progress: the state of its actor (immutable; replaced per turn).</summary>
public sealed record InitiativeState
{
    public string InitiativeId { get; init; } = "";

    public string ProposalKey { get; init; } = "";

    public string Name { get; init; } = "";

    public string Purpose { get; init; } = "";

    public string SponsorId { get; init; } = "";

    public string ChangeManagerId { get; init; } = "";

    public ImmutableArray<string> Scope { get; init; } = [];

    public ImmutableArray<string> Dimensions { get; init; } = [];

    public ImmutableArray<string> TargetBehaviours { get; init; } = [];

    public ImmutableArray<GoalDefinition> Goals { get; init; } = [];

    public ImmutableArray<MilestoneDefinition> Milestones { get; init; } = [];

    public InitiativeStatus Status { get; init; }

    public DateTimeOffset? ProposedAt { get; init; }

    public DateTimeOffset? SponsoredAt { get; init; }

    public DateTimeOffset? ActivatedAt { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }

    // ---- Progress ----

    public long DesiredObservations { get; init; }

    public long UnacceptableObservations { get; init; }

    /// <summary>Period ("yyyy-MM") → the people in scope who showed a desired target behaviour in it.</summary>
    public ImmutableDictionary<string, ImmutableSortedSet<string>> PeopleByPeriod { get; init; } =
        ImmutableDictionary<string, ImmutableSortedSet<string>>.Empty.WithComparers(StringComparer.Ordinal);

    public int PeopleInScope { get; init; }

    public ImmutableDictionary<string, double> SurveyScores { get; init; } = ImmutableDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Goal figures when the initiative became active: the "before" of success stories.</summary>
    public ImmutableDictionary<string, double> Baseline { get; init; } = ImmutableDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal);

    public bool AtRisk { get; init; }

    /// <summary>
    /// The observation log's checkpoint: every observation written by a transaction below this id (xid8) is folded, and no
    /// such transaction can still commit; the next fold reads from here up to the current snapshot's xmin.
    /// </summary>
    public ulong FoldedBelowXid { get; init; }

    /// <summary>The checkpoint at activation: an edit of the scope or target behaviours refolds the observation log from here.</summary>
    public ulong ActivatedFromXid { get; init; }

    /// <summary>Idempotency keys of lifecycle writes already applied (key → operation).</summary>
    public ImmutableDictionary<string, string> AppliedKeys { get; init; } = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    public bool Exists => InitiativeId.Length > 0;
}
