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

    [Fact]
    public async Task TheServersListenOnLoopbackOnly()
    {
        var before = ListenersOutsideLoopback();
        var postgres = new PostgresFixture();
        var rabbitMq = new RabbitMqFixture();
        var redis = new RedisFixture();
        var smtp = new SmtpFixture();
        try
        {
            await postgres.InitializeAsync();
            await rabbitMq.InitializeAsync();
            await redis.InitializeAsync();
            await smtp.InitializeAsync();

            // Every socket the servers listen on (RabbitMQ's Erlang distribution and port mapper included) is on 127.0.0.1.
            ListenersOutsideLoopback().Except(before).ShouldBeEmpty();
        }
        finally
        {
            await smtp.DisposeAsync();
            await redis.DisposeAsync();
            await rabbitMq.DisposeAsync();
            await postgres.DisposeAsync();
        }
    }

    /// <summary>The machine's listening TCP sockets (address:port, as the kernel lists them) on any address but loopback.</summary>
    private static HashSet<string> ListenersOutsideLoopback()
    {
        const string Listen = "0A";
        return File.ReadLines("/proc/net/tcp").Skip(1).Concat(File.ReadLines("/proc/net/tcp6").Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == Listen && !IsLoopback(fields[1]))
            .Select(fields => fields[1])
            .ToHashSet(StringComparer.Ordinal);
    }

    // /proc/net/tcp writes IPv4 as little-endian hex (127.0.0.1 is 0100007F); tcp6 writes ::1 as 00000000000000000000000001000000.
    private static bool IsLoopback(string addressAndPort)
    {
        var address = addressAndPort[..addressAndPort.IndexOf(':', StringComparison.Ordinal)];
        return address.Length == 8
            ? address.EndsWith("7F", StringComparison.Ordinal)
            : address == "00000000000000000000000001000000" || address.StartsWith("0000000000000000FFFF0000", StringComparison.Ordinal) && address.EndsWith("7F", StringComparison.Ordinal);
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
