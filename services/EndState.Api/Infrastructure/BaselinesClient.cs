using Grpc.Core;
using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using EndStateMeasurement = Transformation.EndState.V1.Measurement;

namespace Transformation.EndState.Api.Infrastructure;

/// <summary>
/// Reads measurements from the Baselines service through its generated client (Grpc.Net.Client; registered in
/// Extensions.cs with this service's own identity on every call), within EndState:BaselinesTimeout.
/// </summary>
public sealed class BaselinesClient(BaselineService.BaselineServiceClient client, IOptions<EndStateOptions> options)
{
    /// <summary>The scope's figures of one assessment ("baseline", "latest" or an id) per dimension; null when Baselines has none (NOT_FOUND).</summary>
    public async Task<Dictionary<string, EndStateMeasurement>?> ScoresAsync(string scope, IEnumerable<string> dimensionIds, string assessment,
        CancellationToken cancellationToken)
    {
        var request = new GetDimensionScoresRequest { ScopeOrgUnitId = scope, Assessment = assessment };
        request.DimensionIds.AddRange(dimensionIds);
        GetDimensionScoresResponse response;
        try
        {
            response = await client.GetDimensionScoresAsync(request, deadline: DateTime.UtcNow + options.Value.BaselinesTimeout, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.FailedPrecondition)
        {
            return null;
        }
        catch (RpcException e)
        {
            // Baselines' answer, passed on with its code (UNAVAILABLE when it is down, say), as this service's own status.
            throw new RpcException(new Status(e.StatusCode, $"Baselines answered: {e.Status.Detail}"));
        }

        // A suppressed figure (too few respondents) is no measurement.
        return response.Scores.Where(s => !s.Suppressed).ToDictionary(s => s.DimensionId, s => new EndStateMeasurement
        {
            AssessmentId = response.AssessmentId, MeasuredAt = response.MeasuredAt, Score = s.Mean,
        }, StringComparer.Ordinal);
    }
}
