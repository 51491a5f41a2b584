using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Incentives.V1;
using Transformation.Initiatives.Api.Infrastructure;

namespace Transformation.Initiatives.Api.IntegrationEvents.Handlers;

/// <summary>The local behaviour catalogue: full versioned snapshots from Incentives, upserted when newer.</summary>
public sealed class BehaviourDefinedHandler : IHandleEvent<BehaviourDefined>
{
    public Task HandleAsync(BehaviourDefined message, EventContext context, CancellationToken cancellationToken) =>
        message.Behaviour is null ? Task.CompletedTask : LocalCopies.UpsertBehaviourAsync(context.Connection, context.Transaction, message.Behaviour, cancellationToken);
}

public sealed class BehaviourRevisedHandler : IHandleEvent<BehaviourRevised>
{
    public Task HandleAsync(BehaviourRevised message, EventContext context, CancellationToken cancellationToken) =>
        message.Behaviour is null ? Task.CompletedTask : LocalCopies.UpsertBehaviourAsync(context.Connection, context.Transaction, message.Behaviour, cancellationToken);
}

/// <summary>Rewards granted for observations, the evidence of success stories: a delivery batch in one insert (one per observation at full flow).</summary>
public sealed class RewardGrantedHandler : IHandleEventBatch<RewardGranted>
{
    public async Task HandleAsync(IReadOnlyList<EventDelivery<RewardGranted>> deliveries, EventBatchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        ArgumentNullException.ThrowIfNull(context);
        var rewards = deliveries.Select(d => d.Message).Where(m => m.RewardId.Length > 0).ToList();
        if (rewards.Count > 0)
        {
            await LocalCopies.InsertRewardsAsync(context.Connection, context.Transaction, rewards, cancellationToken);
        }
    }
}

/// <summary>A revoked reward stops being evidence for stories drafted from now on (a story keeps the evidence it was drafted with).</summary>
public sealed class RewardRevokedHandler : IHandleEvent<RewardRevoked>
{
    public Task HandleAsync(RewardRevoked message, EventContext context, CancellationToken cancellationToken) =>
        message.RewardId.Length == 0 ? Task.CompletedTask : LocalCopies.RevokeRewardAsync(context.Connection, context.Transaction, message, cancellationToken);
}

public sealed class OrgUnitChangedHandler : IHandleEvent<OrgUnitChanged>
{
    public Task HandleAsync(OrgUnitChanged message, EventContext context, CancellationToken cancellationToken) =>
        message.OrgUnit is null ? Task.CompletedTask : LocalCopies.UpsertOrgUnitAsync(context.Connection, context.Transaction, message.OrgUnit, cancellationToken);
}

public sealed class EmployeeJoinedHandler : IHandleEvent<EmployeeJoined>
{
    public Task HandleAsync(EmployeeJoined message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : LocalCopies.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeMovedHandler : IHandleEvent<EmployeeMoved>
{
    public Task HandleAsync(EmployeeMoved message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : LocalCopies.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeUpdatedHandler : IHandleEvent<EmployeeUpdated>
{
    public Task HandleAsync(EmployeeUpdated message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : LocalCopies.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeLeftHandler : IHandleEvent<EmployeeLeft>
{
    public Task HandleAsync(EmployeeLeft message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : LocalCopies.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeErasedHandler : IHandleEvent<EmployeeErased>
{
    public Task HandleAsync(EmployeeErased message, EventContext context, CancellationToken cancellationToken) =>
        LocalCopies.EraseEmployeeAsync(context.Connection, context.Transaction, message.EmployeeId, message.Version, cancellationToken);
}

/// <summary>
/// Baselines published an assessment's scores: kept for the survey-score goals, which read them on their next catch-up
/// (<see cref="Grains.IInitiativeGrain.CatchUpAsync"/>). A publication sent before the event carried its scores has nothing to keep.
/// </summary>
public sealed class ScoresPublishedHandler : IHandleEvent<ScoresPublished>
{
    public Task HandleAsync(ScoresPublished message, EventContext context, CancellationToken cancellationToken) =>
        message.Assessment is null || message.PublishedAt is null || message.Assessment.ClosesAt is null || message.AssessmentId.Length == 0
            ? Task.CompletedTask
            : LocalCopies.InsertPublishedScoresAsync(context.Connection, context.Transaction, message, cancellationToken);
}
