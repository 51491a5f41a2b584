using Transformation.Baselines.V1;
using Transformation.EventBus;

namespace Transformation.EndState.Api.IntegrationEvents.Handlers;

/// <summary>Remembers every closed assessment: the points of a trend are the baseline and every later one Baselines reports for a scope.</summary>
public sealed class AssessmentClosedHandler : IHandleEvent<AssessmentClosed>
{
    public async Task HandleAsync(AssessmentClosed message, EventContext context, CancellationToken cancellationToken)
    {
        if (message.AssessmentId.Length == 0 || message.ClosedAt is null)
        {
            return;
        }

        await context.Connection.ExecuteAsync(context.Transaction, """
            INSERT INTO assessments (assessment_id, closed_at) VALUES ($1, $2) ON CONFLICT (assessment_id) DO NOTHING
            """, cancellationToken, message.AssessmentId, message.ClosedAt.ToDateTimeOffset());
    }
}
