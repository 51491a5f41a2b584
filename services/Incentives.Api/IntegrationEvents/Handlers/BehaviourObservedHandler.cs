using Transformation.EventBus;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.IntegrationEvents.Handlers;

/// <summary>
/// Queues each observed behaviour for evaluation in the transaction that holds its inbox row (per CloudEvent id), so a
/// redelivery queues nothing twice; <see cref="ObservationEvaluator"/> evaluates the queue in batches, and the outcome
/// row (keyed by the observation id) makes the same observation published twice, under two event ids, count once.
/// </summary>
public sealed partial class BehaviourObservedHandler(TimeProvider time, ILogger<BehaviourObservedHandler> logger) : IHandleEvent<BehaviourObserved>
{
    public async Task HandleAsync(BehaviourObserved message, EventContext context, CancellationToken cancellationToken)
    {
        if (message.ObservationId.Length == 0 || message.EmployeeId.Length == 0 || message.BehaviourId.Length == 0)
        {
            // Retrying cannot repair it: acknowledge, and say so.
            LogIncomplete(context.CloudEvent.Id);
            return;
        }

        await QueuedObservations.EnqueueAsync(context.Connection, context.Transaction, message, context.CloudEvent.Time ?? time.GetUtcNow(), cancellationToken);
    }

    [LoggerMessage(LogLevel.Warning, "BehaviourObserved {EventId} lacks an observation, employee or behaviour id; ignored.")]
    private partial void LogIncomplete(string eventId);
}
