using Transformation.Notifications.Api;
using Transformation.Notifications.V1;
using Transformation.TestSupport;

namespace Transformation.Notifications.FunctionalTests;

public sealed class AccessTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, NotificationsReflection.Descriptor.Services[0], Extensions.AccessMap, host.Identity);

        disagreements.ShouldBeEmpty();
    }
}
