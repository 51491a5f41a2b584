using System.Text;
using RabbitMQ.Client;
using Transformation.TestSupport;

namespace Transformation.ServerProcesses.FunctionalTests;

public sealed class RabbitMqVirtualHostTests(RabbitMqVirtualHost vhost) : IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task AMessagePublishedWithConfirmsIsConsumedFromTheRealBroker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        await channel.ExchangeDeclareAsync("behaviour-observed", ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.QueueDeclareAsync("incentives-behaviour-observed", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        await channel.QueueBindAsync("incentives-behaviour-observed", "behaviour-observed", "", cancellationToken: ct);

        var properties = new BasicProperties { Persistent = true, ContentType = "application/cloudevents+json" };
        await channel.BasicPublishAsync("behaviour-observed", "", mandatory: true, properties, Encoding.UTF8.GetBytes("{\"id\":\"1\"}"), ct);

        var received = await channel.BasicGetAsync("incentives-behaviour-observed", autoAck: true, ct);
        received.ShouldNotBeNull();
        Encoding.UTF8.GetString(received.Body.Span).ShouldBe("{\"id\":\"1\"}");
        received.BasicProperties.ContentType.ShouldBe("application/cloudevents+json");
    }

    [Fact]
    public async Task EachTestClassGetsAVirtualHostOfItsOwn()
    {
        var ct = TestContext.Current.CancellationToken;
        (await vhost.Server.VirtualHostsAsync(ct)).ShouldContain(vhost.Name);
        vhost.Name.ShouldStartWith("vhost_RabbitMqVirtualHostTests_");

        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await channel.QueueDeclareAsync("only-here", durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);

        (await vhost.Server.QueuesAsync(vhost.Name, ct)).Select(q => q.Name).ShouldContain("only-here");
        (await vhost.Server.QueuesAsync("/", ct)).Select(q => q.Name).ShouldNotContain("only-here");
    }
}
