using System.Globalization;
using System.Reflection;
using RabbitMQ.Client;
using Transformation.EventBus;

namespace Transformation.Deployment.UnitTests;

/// <summary>
/// The pubsub.rabbitmq Component against the EventBus: the declarations Dapr derives from the component's metadata
/// (its code defaults: shared/docs reference/protocols.md §2.6) must be the ones RabbitMqTopology makes, or the broker
/// refuses the second declarer with PRECONDITION_FAILED and the two cannot share exchanges and queues.
/// </summary>
public sealed class DaprComponentTests
{
    private const string AppId = "alpha";
    private const string Topic = "sample-recorded";

    public static TheoryData<string> Overlays() => [.. Manifests.Overlays];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task DaprDeclaresFromTheComponentExactlyWhatTheEventBusDeclares(string overlay)
    {
        var metadata = Metadata(overlay);
        var channel = DispatchProxy.Create<IChannel, RecordingChannel>();
        var recording = (RecordingChannel)(object)channel;

        await RabbitMqTopology.DeclareSubscriptionAsync(channel, Topic, EventNames.Queue(AppId, Topic), TestContext.Current.CancellationToken);
        await RabbitMqTopology.DeclareTopicAsync(channel, Topic, TestContext.Current.CancellationToken);

        var dapr = DaprDeclarations(metadata, AppId, Topic);
        recording.Declarations.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .ShouldBe(dapr.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void TheComponentDeliversAsTheEventBusDoesAndIsTheOneTheServicesName(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var component = manifests.OfKind("Component").Single();
        component.Text("spec", "type").ShouldBe("pubsub.rabbitmq");
        var name = component.Text("metadata", "name");
        name.ShouldBe(new EventBusOptions().PubSubName);
        foreach (var configMap in manifests.OfKind("ConfigMap"))
        {
            if (configMap.Strings("data").TryGetValue("EventBus__PubSubName", out var named))
            {
                named.ShouldBe(name);
            }
        }

        var metadata = Metadata(overlay);

        // The EventBus publishes persistent messages (BasicProperties.Persistent) and waits for the broker's confirms;
        // it acknowledges after its handler's transaction commits and, after its retries, rejects without requeue so
        // that the queue's dead-letter exchange takes the message. Dapr's side must do the same with the same broker.
        metadata["deliveryMode"].ShouldBe("2");
        metadata["publisherConfirm"].ShouldBe("true");
        metadata["autoAck"].ShouldBe("false");
        metadata["requeueInFailure"].ShouldBe("false");

        // No per-message TTL and no queue length limit: the EventBus sets neither, and a limit would drop events.
        metadata.Keys.ShouldNotContain("ttlInSeconds");
        metadata.Keys.ShouldNotContain("maxLen");
        metadata.Keys.ShouldNotContain("maxLenBytes");

        // Dapr's prefetchCount is a uint8.
        int.Parse(metadata["prefetchCount"], CultureInfo.InvariantCulture).ShouldBeInRange(1, 255);

        // The broker's address is a secret, as the services' EventBus__RabbitMq is (the same one).
        var connection = component.Maps("spec", "metadata").Single(m => m.Text("name") == "connectionString");
        connection.At("value").ShouldBeNull();
        connection.Text("secretKeyRef", "name").ShouldBe("rabbitmq");
        foreach (var deployment in manifests.OfKind("Deployment"))
        {
            var rabbitMq = Manifests.Container(deployment, "app").Maps("env").SingleOrDefault(v => v.Text("name") == "EventBus__RabbitMq");
            if (rabbitMq is not null)
            {
                (rabbitMq.Text("valueFrom", "secretKeyRef", "name"), rabbitMq.Text("valueFrom", "secretKeyRef", "key"))
                    .ShouldBe((connection.Text("secretKeyRef", "name"), connection.Text("secretKeyRef", "key")));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task WhatTheSidecarSendsToASubscriptionsDeadLetterTopicLandsInItsDeadLetterQueue(string overlay)
    {
        // In sidecar mode each subscription names dlx-<queue> as its deadLetterTopic (CodeTests checks that the services do).
        // The sidecar publishes a dropped message there as to any topic: the component declares an exchange named as the topic,
        // of its exchangeKind, durable and deletedWhenUnused, which must be the dead-letter exchange the queue was declared
        // with (else PRECONDITION_FAILED), bound to dlq-<queue>.
        var metadata = Metadata(overlay);
        var channel = DispatchProxy.Create<IChannel, RecordingChannel>();
        var recording = (RecordingChannel)(object)channel;
        var queue = EventNames.Queue(AppId, Topic);
        await RabbitMqTopology.DeclareSubscriptionAsync(channel, Topic, queue, TestContext.Current.CancellationToken);

        var deadLetterTopic = EventNames.DeadLetterExchange(queue);
        var published = Exchange(deadLetterTopic, metadata.GetValueOrDefault("exchangeKind", "fanout"),
            bool.Parse(metadata.GetValueOrDefault("durable", "true")), bool.Parse(metadata.GetValueOrDefault("deletedWhenUnused", "true")));
        recording.Declarations.ShouldContain(published);
        recording.Declarations.ShouldContain(Binding(EventNames.DeadLetterQueue(queue), deadLetterTopic, ""));
    }

    [Fact]
    public void TheModelOfDaprSeesADifferenceInTheComponent()
    {
        // The control: Dapr's own defaults (durable, deletedWhenUnused=true, no dead letters) are not our topology.
        var defaults = DaprDeclarations(new Dictionary<string, string>(StringComparer.Ordinal), AppId, Topic);
        var ours = DaprDeclarations(Metadata("prod"), AppId, Topic);
        defaults.Order(StringComparer.Ordinal).ShouldNotBe(ours.Order(StringComparer.Ordinal));
    }

    private static Dictionary<string, string> Metadata(string overlay) =>
        Manifests.Overlay(overlay).OfKind("Component").Single().Maps("spec", "metadata")
            .ToDictionary(m => m.Text("name")!, m => m.Text("value") ?? "(secret)", StringComparer.Ordinal);

    /// <summary>
    /// What pubsub.rabbitmq declares for one subscription (dapr/components-contrib pubsub/rabbitmq: subscribe declares
    /// the topic's exchange, the dead-letter pair when enabled, the queue, its binding; publish declares the exchange).
    /// </summary>
    private static List<string> DaprDeclarations(Dictionary<string, string> metadata, string appId, string topic)
    {
        bool Flag(string key, bool fallback) => metadata.TryGetValue(key, out var value) ? bool.Parse(value) : fallback;
        var durable = Flag("durable", true);
        var deletedWhenUnused = Flag("deletedWhenUnused", true);
        var consumerId = metadata.GetValueOrDefault("consumerID", "{appID}").Replace("{appID}", appId, StringComparison.Ordinal);
        var queue = $"{consumerId}-{topic}";
        var lengthLimits = new List<string>();
        if (metadata.TryGetValue("maxLen", out var maxLen))
        {
            lengthLimits.Add($"x-max-length={maxLen}");
        }

        if (metadata.TryGetValue("maxLenBytes", out var maxLenBytes))
        {
            lengthLimits.Add($"x-max-length-bytes={maxLenBytes}");
        }

        var queueArguments = new List<string>(lengthLimits) { "x-queue-type=classic" };
        var declarations = new List<string>
        {
            Exchange(topic, metadata.GetValueOrDefault("exchangeKind", "fanout"), durable, deletedWhenUnused),
        };
        if (Flag("enableDeadLetter", false))
        {
            queueArguments.Add($"x-dead-letter-exchange=dlx-{queue}");
            declarations.Add(Exchange($"dlx-{queue}", "fanout", true, deletedWhenUnused));
            declarations.Add(Queue($"dlq-{queue}", true, deletedWhenUnused, [.. lengthLimits, "x-queue-mode=lazy"]));
            declarations.Add(Binding($"dlq-{queue}", $"dlx-{queue}", ""));
        }

        declarations.Add(Queue(queue, durable, deletedWhenUnused, queueArguments));
        declarations.Add(Binding(queue, topic, ""));
        return declarations;
    }

    internal static string Exchange(string name, string type, bool durable, bool autoDelete) =>
        $"exchange {name} type={type} durable={durable} autoDelete={autoDelete} arguments=[]";

    internal static string Queue(string name, bool durable, bool autoDelete, IEnumerable<string> arguments) =>
        $"queue {name} durable={durable} exclusive=False autoDelete={autoDelete} arguments=[{string.Join(",", arguments.Order(StringComparer.Ordinal))}]";

    internal static string Binding(string queue, string exchange, string routingKey) => $"bind {queue} to {exchange} key='{routingKey}'";
}

/// <summary>An IChannel that records the declarations made on it, in the same words as the model of Dapr above.</summary>
public class RecordingChannel : DispatchProxy
{
    public List<string> Declarations { get; } = [];

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var arguments = targetMethod.GetParameters().Select((p, i) => (p.Name!, args![i])).ToDictionary(a => a.Item1, a => a.Item2, StringComparer.Ordinal);
        static IEnumerable<string> Pairs(object? table) =>
            (table as IDictionary<string, object?> ?? new Dictionary<string, object?>()).Select(pair => $"{pair.Key}={pair.Value}");
        switch (targetMethod.Name)
        {
            case nameof(IChannel.ExchangeDeclareAsync):
                Pairs(arguments["arguments"]).ShouldBeEmpty();
                Declarations.Add(DaprComponentTests.Exchange((string)arguments["exchange"]!, (string)arguments["type"]!, (bool)arguments["durable"]!, (bool)arguments["autoDelete"]!));
                return Task.CompletedTask;
            case nameof(IChannel.QueueDeclareAsync):
                ((bool)arguments["exclusive"]!).ShouldBeFalse();
                Declarations.Add(DaprComponentTests.Queue((string)arguments["queue"]!, (bool)arguments["durable"]!, (bool)arguments["autoDelete"]!, Pairs(arguments["arguments"])));
                return Task.FromResult(new QueueDeclareOk((string)arguments["queue"]!, 0, 0));
            case nameof(IChannel.QueueBindAsync):
                Declarations.Add(DaprComponentTests.Binding((string)arguments["queue"]!, (string)arguments["exchange"]!, (string)arguments["routingKey"]!));
                return Task.CompletedTask;
            default:
                throw new NotSupportedException($"The topology called IChannel.{targetMethod.Name}, which the recording channel does not model.");
        }
    }
}
