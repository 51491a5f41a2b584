using Transformation.EventBus;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.Api.IntegrationEvents.Handlers;

/// <summary>
/// Evaluates the observed behaviours of a delivery batch in the transaction that holds their inbox rows, through the
/// batched <see cref="RewardPipeline"/> (ledger grains, budgets read and allocated in memory, one multi-row outcome insert,
/// the outbox by COPY, the budgets charged last by a conditional update): a redelivery (same CloudEvent id) finds its inbox row and never reaches this handler, and the outcome
/// row (keyed by the observation id) makes the same observation published twice, under two event ids, count once. If
/// the batch fails, the event bus hands its events here again one by one, so one bad observation holds back no other;
/// that includes a batch whose budget charge was refused (<see cref="BudgetChargeRefusedException"/>: a concurrent batch
/// spent the room first), whose events are then decided against the budgets as they are now.
/// </summary>
public sealed partial class BehaviourObservedHandler(RewardPipeline pipeline, RulesStore rules, BehaviourCache behaviours, TimeProvider time,
    ILogger<BehaviourObservedHandler> logger) : IHandleEventBatch<BehaviourObserved>
{
    public async Task HandleAsync(IReadOnlyList<EventDelivery<BehaviourObserved>> deliveries, EventBatchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        ArgumentNullException.ThrowIfNull(context);
        var batch = new List<Evaluation>(deliveries.Count);
        foreach (var (message, cloudEvent) in deliveries)
        {
            if (message.ObservationId.Length == 0 || message.EmployeeId.Length == 0 || message.BehaviourId.Length == 0)
            {
                // Retrying cannot repair it: acknowledge, and say so.
                LogIncomplete(cloudEvent.Id);
                continue;
            }

            var behaviour = await behaviours.FindAsync(message.BehaviourId, cancellationToken);
            batch.Add(ToEvaluation(message, cloudEvent.Time ?? time.GetUtcNow(), behaviour));
        }

        if (batch.Count > 0)
        {
            await pipeline.EvaluateAsync(context.Connection, context.Transaction, batch, await rules.CurrentAsync(cancellationToken), cancellationToken);
        }
    }

    /// <summary>
    /// What the rules evaluate: the catalogue decides the polarity when it knows the behaviour (unacceptable from either
    /// side is a call-out); the observation time falls back to the recording time, then to the event's time.
    /// </summary>
    public static Evaluation ToEvaluation(BehaviourObserved message, DateTimeOffset eventTime, BehaviourSnapshot? behaviour)
    {
        ArgumentNullException.ThrowIfNull(message);
        var polarity = behaviour?.Polarity == Polarity.Unacceptable || message.Polarity == Polarity.Unacceptable ? Polarity.Unacceptable : Polarity.Desired;
        var observedAt = (message.ObservedAt ?? message.RecordedAt)?.ToDateTimeOffset() ?? eventTime;
        return new Evaluation(new Observation(message.ObservationId, message.EmployeeId, message.BehaviourId, message.BehaviourVersion, polarity,
            message.Source, message.ObserverId, observedAt, message.OrgUnitId, message.InitiativeId, message.Evidence), behaviour?.Name ?? "");
    }

    [LoggerMessage(LogLevel.Warning, "BehaviourObserved {EventId} lacks an observation, employee or behaviour id; ignored.")]
    private partial void LogIncomplete(string eventId);
}
