using Transformation.TestSupport;

namespace Transformation.ServerProcesses.FunctionalTests;

/// <summary>
/// A server asked for a port another server listens on (say a previous `transform run` still stopping) refuses to start,
/// naming the port, instead of taking the other server's answers for its own readiness.
/// </summary>
public sealed class PortInUseTests(PostgresFixture postgres, RabbitMqFixture rabbitMq)
{
    [Fact]
    public async Task PostgreSqlRefusesAPortAnotherServerListensOn()
    {
        var error = await Should.ThrowAsync<InvalidOperationException>(() =>
            PostgresServer.StartAsync(new PostgresServerOptions { Port = postgres.Server.Port }, TestContext.Current.CancellationToken));

        error.Message.ShouldContain($"Port {postgres.Server.Port} is in use");
    }

    [Fact]
    public async Task RabbitMqRefusesAPortAnotherBrokerListensOn()
    {
        var error = await Should.ThrowAsync<InvalidOperationException>(() =>
            RabbitMqServer.StartAsync(new RabbitMqServerOptions { AmqpPort = rabbitMq.Server.AmqpPort }, TestContext.Current.CancellationToken));

        error.Message.ShouldContain($"Port {rabbitMq.Server.AmqpPort}");
        error.Message.ShouldContain("is in use");
    }
}
