using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway RabbitMQ broker per test run (an assembly fixture:
/// <c>[assembly: AssemblyFixture(typeof(RabbitMqFixture))]</c>), removed afterwards.
/// </summary>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    private RabbitMqServer? _server;

    public RabbitMqServer Server => _server ?? throw new InvalidOperationException("The RabbitMQ fixture has not started.");

    public async ValueTask InitializeAsync() => _server = await RabbitMqServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A virtual host of its own for one test class (a class fixture), deleted after the class.</summary>
public sealed class RabbitMqVirtualHost(RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public string Name { get; } = TestNames.Unique("vhost");

    public RabbitMqServer Server => rabbitMq.Server;

    public Uri AmqpUri => rabbitMq.Server.AmqpUri(Name);

    public async ValueTask InitializeAsync() => await rabbitMq.Server.CreateVirtualHostAsync(Name);

    public async ValueTask DisposeAsync()
    {
        // A test that stopped the broker must not fail the clean-up; the broker goes with the run anyway.
        if (rabbitMq.Server.IsRunning)
        {
            await rabbitMq.Server.DeleteVirtualHostAsync(Name);
        }
    }
}
