using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Grpc;

internal static class Mapping
{
    public static Initiative ToProto(this InitiativeState state, DateTimeOffset now)
    {
        var definition = new InitiativeDraft
        {
            Name = state.Name,
            Purpose = state.Purpose,
            SponsorId = state.SponsorId,
            ChangeManagerId = state.ChangeManagerId,
            ScopeOrgUnitIds = { state.Scope },
            DimensionIds = { state.Dimensions },
            TargetBehaviourIds = { state.TargetBehaviours },
            Goals = { state.Goals.Select(g => new Goal { GoalId = g.GoalId, Kind = g.Kind, Description = g.Description, Target = g.Target, DimensionId = g.DimensionId }) },
            Milestones =
            {
                state.Milestones.Select(m => new Milestone
                {
                    MilestoneId = m.MilestoneId,
                    Name = m.Name,
                    DueOn = Timestamp.FromDateTimeOffset(m.DueOn),
                    GoalId = m.GoalId,
                    Target = m.Target,
                    ReachedAt = m.ReachedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
                }),
            },
        };
        var progress = new Progress
        {
            DesiredObservations = state.DesiredObservations,
            UnacceptableObservations = state.UnacceptableObservations,
            AtRisk = state.AtRisk,
            PeopleInScope = state.PeopleInScope,
            Goals = { state.Goals.Select(g => Model.Initiatives.Figure(state, g, now)) },
            Periods =
            {
                state.PeopleByPeriod.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new PeriodAdoption
                {
                    Period = p.Key,
                    PeopleShowing = p.Value.Count,
                    PeopleInScope = state.PeopleInScope,
                    Adoption = Model.Initiatives.Adoption(state, p.Key),
                }),
            },
        };
        return new Initiative
        {
            InitiativeId = state.InitiativeId,
            Definition = definition,
            Status = state.Status,
            Progress = progress,
            ProposedAt = Stamp(state.ProposedAt),
            SponsoredAt = Stamp(state.SponsoredAt),
            ActivatedAt = Stamp(state.ActivatedAt),
            ClosedAt = Stamp(state.ClosedAt),
        };
    }

    /// <summary>The initiative as its audit trail records it: definition, status and dates, and the goal figures (not the observation counts).</summary>
    public static string ToAuditJson(this InitiativeState state, DateTimeOffset now)
    {
        var initiative = state.ToProto(now);
        initiative.Progress = new Progress { Goals = { initiative.Progress.Goals } };
        return JsonFormatter.Default.Format(initiative);
    }

    private static Timestamp? Stamp(DateTimeOffset? at) => at is { } value ? Timestamp.FromDateTimeOffset(value) : null;
}
