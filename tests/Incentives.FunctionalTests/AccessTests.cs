using Transformation.Incentives.Api;
using Transformation.Incentives.V1;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

public sealed class AccessTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        using var identity = new TestIdentity();
        await using var host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, identity, TestContext.Current.CancellationToken);

        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, IncentivesReflection.Descriptor.Services[0], Extensions.AccessMap, identity);

        disagreements.ShouldBeEmpty();
    }
}
