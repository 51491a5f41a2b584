using Transformation.Baselines.Api;
using Transformation.Baselines.V1;
using Transformation.TestSupport;

namespace Transformation.Baselines.FunctionalTests;

public sealed class AccessTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, BaselinesReflection.Descriptor.Services[0], Extensions.AccessMap, host.Identity);

        disagreements.ShouldBeEmpty();
    }
}
