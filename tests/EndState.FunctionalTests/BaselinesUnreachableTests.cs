using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Grpc.Core;

namespace Transformation.EndState.FunctionalTests;

/// <summary>EndState reads Baselines through the generated gRPC client: when Baselines cannot be reached, a gap is UNAVAILABLE, not UNKNOWN.</summary>
public sealed class BaselinesUnreachableTests(PostgresFixture postgres, RabbitMqFixture rabbitMq)
{
    [Fact]
    public async Task AGapWhileBaselinesCannotBeReachedIsUnavailableAndNamesBaselines()
    {
        var nobody = Ports.Free(); // nothing listens here
        await using var host = new EndStateHost(postgres, rabbitMq)
        {
            Settings = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                ["EndState:BaselinesAddress"] = $"http://127.0.0.1:{nobody.ToString(CultureInfo.InvariantCulture)}",
                ["EndState:BaselinesTimeout"] = "00:00:05",
            },
        };
        await host.InitializeAsync();
        var hr = host.Identity.TokenFor("hr-1", Roles.Hr);
        await host.CallAsync<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "u-draft", ScopeOrgUnitId = "u-unit", Draft = new EndStateDraft
            {
                Vision = "Reachable or not.", SponsorIds = { "u-ceo" },
                Targets = { new DimensionTarget { DimensionId = "u-dim", TargetScore = 4, TargetDate = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(90)) } },
            },
        }, hr);

        var gap = await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetGapRequest, GetGapResponse>("GetGap",
            new GetGapRequest { ScopeOrgUnitId = "u-unit", Version = 1 }, hr));

        gap.StatusCode.ShouldBe(StatusCode.Unavailable);
        gap.Status.Detail.ShouldStartWith("Baselines answered: ");
    }
}
