using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using EndStateMeasurement = Transformation.EndState.V1.Measurement;

namespace Transformation.EndState.Api.Infrastructure;

/// <summary>
/// Reads measurements from the Baselines service over gRPC with this service's own identity (role "service"): a
/// short-lived token signed with EndState:ServiceTokenKey, issuer and audience from the Identity section.
/// </summary>
public sealed class BaselinesClient : IDisposable
{
    private static readonly Google.Protobuf.Reflection.MethodDescriptor GetDimensionScoresMethod =
        BaselinesReflection.Descriptor.Services[0].FindMethodByName("GetDimensionScores");

    private readonly GrpcClient _client;
    private readonly TokenIssuer _issuer;
    private readonly string _subject;

    public BaselinesClient(IOptions<EndStateOptions> options, IOptions<IdentityOptions> identity)
    {
        var value = options.Value;
        _client = GrpcClient.Create(value.BaselinesAddress!);
        _issuer = TokenIssuer.FromPrivateKeyPem(value.ServiceTokenKey, identity.Value.Issuer, identity.Value.Audience);
        _subject = value.ServiceSubject;
    }

    /// <summary>The scope's figures of one assessment ("baseline", "latest" or an id) per dimension; null when Baselines has none (NOT_FOUND).</summary>
    public async Task<Dictionary<string, EndStateMeasurement>?> ScoresAsync(string scope, IEnumerable<string> dimensionIds, string assessment,
        CancellationToken cancellationToken)
    {
        var request = new GetDimensionScoresRequest { ScopeOrgUnitId = scope, Assessment = assessment };
        request.DimensionIds.AddRange(dimensionIds);
        GetDimensionScoresResponse response;
        try
        {
            var token = _issuer.Issue(_subject, [Roles.Service], TimeSpan.FromMinutes(5));
            response = await _client.UnaryAsync<GetDimensionScoresRequest, GetDimensionScoresResponse>(GetDimensionScoresMethod, request,
                new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + token } }, CancellationToken = cancellationToken });
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.FailedPrecondition)
        {
            return null;
        }

        // A suppressed figure (too few respondents) is no measurement.
        return response.Scores.Where(s => !s.Suppressed).ToDictionary(s => s.DimensionId, s => new EndStateMeasurement
        {
            AssessmentId = response.AssessmentId, MeasuredAt = response.MeasuredAt, Score = s.Mean,
        }, StringComparer.Ordinal);
    }

    public void Dispose()
    {
        _client.Dispose();
        _issuer.Dispose();
    }
}
