using Transformation.EndState.Api;
using Transformation.EndState.V1;
using Transformation.TestSupport;

namespace Transformation.EndState.FunctionalTests;

public sealed class AccessTests(EndStateHost host) : IClassFixture<EndStateHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, EndstateReflection.Descriptor.Services[0], Extensions.AccessMap, host.Identity);

        disagreements.ShouldBeEmpty();
    }
}
