using Transformation.EventBus;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.Model;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.IntegrationEvents.Handlers;

/// <summary>
/// Evaluates each observed behaviour once: the inbox row (per CloudEvent id) and the outcome row (keyed by the
/// observation id) commit in the same transaction, so a redelivery, or the same observation published twice, has no
/// second effect.
/// </summary>
public sealed partial class BehaviourObservedHandler(RewardPipeline pipeline, RulesStore rules, BehaviourCache behaviours,
    ILogger<BehaviourObservedHandler> logger) : IHandleEvent<BehaviourObserved>
{
    public async Task HandleAsync(BehaviourObserved message, EventContext context, CancellationToken cancellationToken)
    {
        if (message.ObservationId.Length == 0 || message.EmployeeId.Length == 0 || message.BehaviourId.Length == 0)
        {
            // Retrying cannot repair it: acknowledge, and say so.
            LogIncomplete(context.CloudEvent.Id);
            return;
        }

        var current = await rules.CurrentAsync(cancellationToken);
        var behaviour = await behaviours.FindAsync(message.BehaviourId, cancellationToken);

        // The catalogue decides the polarity when it knows the behaviour; unacceptable from either side is a call-out.
        var polarity = behaviour?.Polarity == Polarity.Unacceptable || message.Polarity == Polarity.Unacceptable ? Polarity.Unacceptable : Polarity.Desired;
        var observedAt = (message.ObservedAt ?? message.RecordedAt)?.ToDateTimeOffset() ?? context.CloudEvent.Time ?? DateTimeOffset.UtcNow;
        var observation = new Observation(message.ObservationId, message.EmployeeId, message.BehaviourId, message.BehaviourVersion, polarity,
            message.Source, message.ObserverId, observedAt, message.OrgUnitId, message.InitiativeId, message.Evidence);
        await pipeline.EvaluateAsync(context.Connection, context.Transaction, observation, current, behaviour?.Name ?? "", cancellationToken);
    }

    [LoggerMessage(LogLevel.Warning, "BehaviourObserved {EventId} lacks an observation, employee or behaviour id; ignored.")]
    private partial void LogIncomplete(string eventId);
}
