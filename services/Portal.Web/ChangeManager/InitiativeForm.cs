using Google.Protobuf.WellKnownTypes;
using Transformation.Initiatives.V1;
using Transformation.Portal.Web.Shared;

namespace Transformation.Portal.Web.ChangeManager;

/// <summary>
/// What a person edits of an initiative (proposing one or changing it): rows they add and take away, with the ids the
/// service needs made up here and never shown. Checked before sending, with the service's own field names.
/// </summary>
public sealed class InitiativeForm
{
    /// <summary>The most a count goal or milestone may be here (the service's Initiatives.MaxTarget).</summary>
    public const double MaxTarget = 1_000_000_000;

    /// <summary>The survey scale a survey-score goal's target is on.</summary>
    public const double MaxSurveyScore = 5;

    public string Name { get; set; } = "";

    public string Purpose { get; set; } = "";

    public HashSet<string> Scope { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Dimensions { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Behaviours { get; } = new(StringComparer.Ordinal);

    public List<GoalRow> Goals { get; } = [];

    public List<MilestoneRow> Milestones { get; } = [];

    public sealed class GoalRow
    {
        public required string GoalId { get; init; }

        public GoalKind Kind { get; set; } = GoalKind.Count;

        public string Description { get; set; } = "";

        public double Target { get; set; } = 10;

        public string DimensionId { get; set; } = "";
    }

    public sealed class MilestoneRow
    {
        public required string MilestoneId { get; init; }

        public string Name { get; set; } = "";

        public DateTime? DueOn { get; set; }

        public string GoalId { get; set; } = "";

        public double Target { get; set; }

        /// <summary>When the service found it reached (kept while its goal and target stay).</summary>
        public Timestamp? ReachedAt { get; init; }
    }

    public static InitiativeForm From(InitiativeDraft definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var form = new InitiativeForm { Name = definition.Name, Purpose = definition.Purpose };
        form.Scope.UnionWith(definition.ScopeOrgUnitIds);
        form.Dimensions.UnionWith(definition.DimensionIds);
        form.Behaviours.UnionWith(definition.TargetBehaviourIds);
        form.Goals.AddRange(definition.Goals.Select(g => new GoalRow
        {
            GoalId = g.GoalId, Kind = g.Kind, Description = g.Description, Target = g.Target, DimensionId = g.DimensionId,
        }));
        form.Milestones.AddRange(definition.Milestones.Select(m => new MilestoneRow
        {
            MilestoneId = m.MilestoneId, Name = m.Name, DueOn = m.DueOn?.ToDateTime().Date, GoalId = m.GoalId, Target = m.Target, ReachedAt = m.ReachedAt,
        }));
        return form;
    }

    public GoalRow AddGoal()
    {
        var goal = new GoalRow { GoalId = FreeId("goal", Goals.Select(g => g.GoalId)) };
        Goals.Add(goal);
        return goal;
    }

    public MilestoneRow AddMilestone(DateTime due)
    {
        var milestone = new MilestoneRow { MilestoneId = FreeId("milestone", Milestones.Select(m => m.MilestoneId)), DueOn = due, GoalId = Goals.FirstOrDefault()?.GoalId ?? "" };
        milestone.Target = Goals.FirstOrDefault() is { } goal ? goal.Kind == GoalKind.Count ? Math.Max(1, Math.Round(goal.Target / 2)) : goal.Target : 1;
        Milestones.Add(milestone);
        return milestone;
    }

    /// <summary>Takes a goal away, and the milestones that were measured by it (they would name a goal that is gone).</summary>
    public void RemoveGoal(GoalRow goal)
    {
        Goals.Remove(goal);
        Milestones.RemoveAll(m => string.Equals(m.GoalId, goal.GoalId, StringComparison.Ordinal));
    }

    /// <summary>"Goal 2" for the second goal: how the form names a goal to people (its id is the service's).</summary>
    public string GoalLabel(string goalId)
    {
        var index = Goals.FindIndex(g => string.Equals(g.GoalId, goalId, StringComparison.Ordinal));
        return index < 0 ? "a goal that is gone" : $"Goal {index + 1}" + (Goals[index].Description.Trim() is { Length: > 0 } d ? $" ({d})" : "");
    }

    public GoalKind KindOf(string goalId) => Goals.FirstOrDefault(g => string.Equals(g.GoalId, goalId, StringComparison.Ordinal))?.Kind ?? GoalKind.Unspecified;

    public InitiativeChanges ToChanges()
    {
        var changes = new InitiativeChanges
        {
            Name = Name.Trim(), Purpose = Purpose.Trim(), ScopeOrgUnitIds = { Scope }, DimensionIds = { Dimensions }, TargetBehaviourIds = { Behaviours },
        };
        changes.Goals.AddRange(Goals.Select(ToGoal));
        changes.Milestones.AddRange(Milestones.Select(ToMilestone));
        return changes;
    }

    public InitiativeDraft ToDraft(string sponsorId, string changeManagerId)
    {
        var draft = new InitiativeDraft
        {
            Name = Name.Trim(), Purpose = Purpose.Trim(), SponsorId = sponsorId, ChangeManagerId = changeManagerId,
            ScopeOrgUnitIds = { Scope }, DimensionIds = { Dimensions }, TargetBehaviourIds = { Behaviours },
        };
        draft.Goals.AddRange(Goals.Select(ToGoal));
        draft.Milestones.AddRange(Milestones.Select(ToMilestone));
        return draft;
    }

    /// <summary>What is missing or out of range, by the service's field names ("initiative.goals[0].target"), in words.</summary>
    public Dictionary<string, string> Check()
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Name.Trim().Length == 0)
        {
            fields["initiative.name"] = "Give the initiative a name.";
        }

        if (Purpose.Trim().Length == 0)
        {
            fields["initiative.purpose"] = "Say what the initiative is for.";
        }

        if (Scope.Count == 0)
        {
            fields["initiative.scope_org_unit_ids"] = "Choose at least one unit the initiative covers.";
        }

        if (Behaviours.Count == 0)
        {
            fields["initiative.target_behaviour_ids"] = "Choose at least one behaviour the initiative sets out to grow.";
        }

        for (var i = 0; i < Goals.Count; i++)
        {
            var goal = Goals[i];
            if (goal.Description.Trim().Length == 0)
            {
                fields[$"initiative.goals[{i}].description"] = "Say what the goal measures.";
            }

            if (!(goal.Target > 0) || goal.Target > MaxOf(goal.Kind))
            {
                fields[$"initiative.goals[{i}].target"] = $"Set a target above 0 and up to {ChartMath.N(MaxOf(goal.Kind))}.";
            }

            if (goal.Kind == GoalKind.SurveyScore && goal.DimensionId.Length == 0)
            {
                fields[$"initiative.goals[{i}].dimension_id"] = "Choose the dimension whose survey score the goal follows.";
            }
        }

        for (var i = 0; i < Milestones.Count; i++)
        {
            var milestone = Milestones[i];
            if (milestone.Name.Trim().Length == 0)
            {
                fields[$"initiative.milestones[{i}].name"] = "Name the milestone.";
            }

            if (milestone.DueOn is null)
            {
                fields[$"initiative.milestones[{i}].due_on"] = "Choose the date it is due.";
            }

            var kind = KindOf(milestone.GoalId);
            if (kind == GoalKind.Unspecified)
            {
                fields[$"initiative.milestones[{i}].goal_id"] = "Choose the goal whose figure marks it reached.";
            }
            else if (!(milestone.Target > 0) || milestone.Target > MaxOf(kind))
            {
                fields[$"initiative.milestones[{i}].target"] = $"Set a figure above 0 and up to {ChartMath.N(MaxOf(kind))}.";
            }
        }

        return fields;
    }

    /// <summary>The largest target of a goal of this kind: a share up to 1, a survey score up to 5, a count up to a billion.</summary>
    public static double MaxOf(GoalKind kind) => kind switch
    {
        GoalKind.Adoption => 1,
        GoalKind.SurveyScore => MaxSurveyScore,
        _ => MaxTarget,
    };

    private static Goal ToGoal(GoalRow g) => new()
    {
        GoalId = g.GoalId, Kind = g.Kind, Description = g.Description.Trim(), Target = g.Target,
        DimensionId = g.Kind == GoalKind.SurveyScore ? g.DimensionId : "",
    };

    private static Milestone ToMilestone(MilestoneRow m) => new()
    {
        MilestoneId = m.MilestoneId, Name = m.Name.Trim(), GoalId = m.GoalId, Target = m.Target,
        DueOn = m.DueOn is { } due ? Timestamp.FromDateTime(DateTime.SpecifyKind(due.Date, DateTimeKind.Utc)) : null,
    };

    private static string FreeId(string prefix, IEnumerable<string> taken)
    {
        var used = taken.ToHashSet(StringComparer.Ordinal);
        var n = used.Count + 1;
        while (used.Contains($"{prefix}-{n}"))
        {
            n++;
        }

        return $"{prefix}-{n}";
    }
}
