using Google.Rpc;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.EndState.FunctionalTests;

/// <summary>Issue 19.9: an enum number the enum does not define and a negative version are INVALID_ARGUMENT naming the field.</summary>
public sealed class BadInputTests(EndStateHost host) : IClassFixture<EndStateHost>
{
    private string Hr => host.Identity.TokenFor("hr-bad", Roles.Hr);

    [Fact]
    public async Task AFilterWithAnUndefinedStatusIsInvalidArgumentNotAnEmptyList()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            host.CallAsync<ListEndStatesRequest, ListEndStatesResponse>("ListEndStates", new ListEndStatesRequest { Status = (EndStateStatus)42 }, Hr));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("status");
    }

    [Fact]
    public async Task ANegativeVersionIsInvalidArgument()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            host.CallAsync<GetGapRequest, GetGapResponse>("GetGap", new GetGapRequest { ScopeOrgUnitId = "any", Version = -1 }, Hr));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("version");
    }
}
