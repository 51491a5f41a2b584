using System.Security.Cryptography;
using DotNet.Testcontainers.Containers;
using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway RabbitMQ broker per test run (an assembly fixture:
/// <c>[assembly: AssemblyFixture(typeof(RabbitMqFixture))]</c>), removed afterwards: a container when a Docker engine
/// answers (<see cref="ServerContainers"/>), a server process otherwise.
/// </summary>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    private RabbitMqBroker? _server;

    public RabbitMqBroker Server => _server ?? throw new InvalidOperationException("The RabbitMQ fixture has not started.");

    public async ValueTask InitializeAsync() =>
        _server = ServerContainers.InUse ? await RabbitMqContainer.StartAsync() : await RabbitMqServer.StartAsync();

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

    public RabbitMqBroker Server => rabbitMq.Server;

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

/// <summary>
/// A broker in a container of transformation/rabbitmq (tools/images/rabbitmq), on the host network: its AMQP, management,
/// Erlang distribution and port mapper ports are free loopback ports of its own. Stopping keeps the container, so a restart
/// finds the same ports and data.
/// </summary>
internal sealed class RabbitMqContainer : RabbitMqBroker
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private IContainer? _container;
    private bool _running;

    private RabbitMqContainer()
        : base(Ports.Free(), Ports.Free(), "transformation", Convert.ToHexString(RandomNumberGenerator.GetBytes(12)))
    {
    }

    public override bool IsRunning => _running;

    public static async Task<RabbitMqContainer> StartAsync()
    {
        var broker = new RabbitMqContainer();
        broker._container = await ServerContainers.StartAsync("rabbitmq", builder => builder
                .WithEnvironment("AMQP_PORT", broker.AmqpPort.ToString())
                .WithEnvironment("MANAGEMENT_PORT", broker.ManagementPort.ToString())
                .WithEnvironment("DIST_PORT", Ports.Free().ToString())
                .WithEnvironment("EPMD_PORT", Ports.Free().ToString())
                .WithEnvironment("RABBITMQ_USER", broker.UserName)
                .WithEnvironment("RABBITMQ_PASSWORD", broker.Password),
            broker.IsReadyAsync, StartTimeout);
        broker._running = true;
        return broker;
    }

    public override async Task StopAsync()
    {
        if (_running)
        {
            await Container.StopAsync();
            _running = false;
        }
    }

    public override async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (!_running)
        {
            await Container.StartAsync(cancellationToken); // runs the readiness probe again
            _running = true;
        }
    }

    protected override async ValueTask DisposeBrokerAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    private IContainer Container => _container ?? throw new InvalidOperationException("The broker's container has not started.");
}
