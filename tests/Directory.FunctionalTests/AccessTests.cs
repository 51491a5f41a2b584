using Transformation.Directory.Api;
using Transformation.Directory.V1;
using Transformation.TestSupport;

namespace Transformation.Directory.FunctionalTests;

public sealed class AccessTests(DirectoryHost host) : IClassFixture<DirectoryHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, DirectoryReflection.Descriptor.Services[0], Extensions.AccessMap, host.Identity);

        disagreements.ShouldBeEmpty();
    }

    [Fact]
    public async Task ADeclarationTheServerDoesNotFollowIsCaught()
    {
        var wrong = new Transformation.GrpcHosting.RpcAccessMap();
        foreach (var (method, access) in Extensions.AccessMap)
        {
            wrong[method] = access;
        }

        wrong["GetOrgTree"] = Transformation.GrpcHosting.RpcAccess.Roles(ServiceDefaults.Identity.Roles.Hr);

        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, DirectoryReflection.Descriptor.Services[0], wrong, host.Identity);

        disagreements.ShouldContain(line => line.StartsWith("GetOrgTree as employee", StringComparison.Ordinal));
        disagreements.ShouldAllBe(line => line.StartsWith("GetOrgTree", StringComparison.Ordinal));
    }
}
