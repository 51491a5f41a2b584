using System.Net;
using System.Net.Sockets;
using RabbitMQ.Client;
using Transformation.TestSupport;

namespace Transformation.ServerProcesses.FunctionalTests;

/// <summary>
/// What the fixtures promise whichever way they run their servers (containers when a Docker engine answers, processes
/// otherwise). Each test starts fixtures of its own, so the run's shared servers are never stopped.
/// </summary>
public sealed class FixtureLifecycleTests
{
    [Fact]
    public async Task ABrokerStoppedAndRestartedAnswersOnTheSamePortWithItsVirtualHosts()
    {
        var ct = TestContext.Current.CancellationToken;
        var fixture = new RabbitMqFixture();
        await fixture.InitializeAsync();
        try
        {
            var broker = fixture.Server;
            var port = broker.AmqpPort;
            await broker.CreateVirtualHostAsync("kept", ct);

            await broker.StopAsync();
            broker.IsRunning.ShouldBeFalse();
            IsListening(port).ShouldBeFalse();

            await broker.RestartAsync(ct);
            broker.IsRunning.ShouldBeTrue();
            broker.AmqpPort.ShouldBe(port);
            (await broker.VirtualHostsAsync(ct)).ShouldContain("kept");
            await using var connection = await new ConnectionFactory { Uri = broker.AmqpUri("kept") }.CreateConnectionAsync(ct);
            connection.IsOpen.ShouldBeTrue();
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task DisposedFixturesLeaveNothingListeningOnTheirPorts()
    {
        var postgres = new PostgresFixture();
        var rabbitMq = new RabbitMqFixture();
        await postgres.InitializeAsync();
        await rabbitMq.InitializeAsync();
        int[] ports = [postgres.Server.Port, rabbitMq.Server.AmqpPort, rabbitMq.Server.ManagementPort];
        ports.ShouldAllBe(port => IsListening(port));

        await postgres.DisposeAsync();
        await rabbitMq.DisposeAsync();

        ports.ShouldAllBe(port => !IsListening(port));
    }

    private static bool IsListening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
