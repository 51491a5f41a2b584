using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;
using Transformation.ServiceDefaults;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>
/// Sidecar mode with Dapr.AspNetCore and DaprClient, driven as <c>daprd</c> drives an app (<see cref="DaprSidecarStandIn"/>:
/// the runtime's gRPC publish API, the subscription list, deliveries from the broker with each reply's consequence).
/// A run with a real daprd is not part of CI (README: "Dapr sidecar mode").
/// </summary>
public sealed class DaprSidecarContractTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    // One app id per test: its own queue, dead-letter queue and effects.
    private readonly string _appId = "theta-" + Guid.NewGuid().ToString("N")[..8];
    private DaprSidecarStandIn? _sidecar;
    private WebApplication? _service;
    private Uri? _app;

    private DaprSidecarStandIn Sidecar => _sidecar!;

    private string Queue => EventNames.Queue(_appId, Samples.Topic);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await SampleHost.EnsureEffectTableAsync(database.ConnectionString, ct);
        _sidecar = new DaprSidecarStandIn(vhost.AmqpUri, _appId, retries: 1);
        await _sidecar.StartPublishApiAsync(ct);

        var httpPort = Samples.FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Service:Name"] = _appId,
            ["Service:BindAddress"] = "localhost",
            ["Service:GrpcPort"] = Samples.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["EventBus:Mode"] = "DaprSidecar",
            ["DAPR_GRPC_ENDPOINT"] = _sidecar.GrpcEndpoint, // What the sidecar injector sets (or DAPR_GRPC_PORT).
            ["EventBus:Database"] = database.ConnectionString,
            ["EventBus:MaxAttempts"] = "2",
            ["EventBus:RetryBaseDelay"] = "00:00:00.010",
            ["EventBus:ReconnectDelay"] = "00:00:00.200",
        });
        builder.AddServiceDefaults();
        builder.Logging.ClearProviders();
        builder.AddEventBus();
        builder.Services.AddSingleton<PoisonSwitch>();
        builder.Services.AddSubscription<SampleRecorded, EffectWriter>();
        _service = builder.Build();
        _service.MapDefaultEndpoints();
        _service.MapEventBus();
        await _service.StartAsync(ct);
        _app = new Uri($"http://127.0.0.1:{httpPort}/");
        await _sidecar.SubscribeAsync(_app, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
        }

        if (_service is not null)
        {
            await _service.StopAsync();
            await _service.DisposeAsync();
        }
    }

    [Fact]
    public void TheSidecarReadsOneRouteAndDeadLetterTopicPerSubscription()
    {
        var subscription = Sidecar.Subscriptions.EnumerateArray().ShouldHaveSingleItem();
        DaprSidecarStandIn.Field(subscription, "pubsubname").ShouldBe("pubsub");
        DaprSidecarStandIn.Field(subscription, "topic").ShouldBe(Samples.Topic);
        DaprSidecarStandIn.Field(subscription, "route")!.TrimStart('/').ShouldBe("eventbus/sample-recorded");
        // The exchange the broker dead-letters the queue into: what the sidecar drops lands in dlq-<queue> too.
        DaprSidecarStandIn.Field(subscription, "deadLetterTopic").ShouldBe(EventNames.DeadLetterExchange(Queue));
    }

    [Fact]
    public async Task AnEventDeliveredTwiceHasOneEffect()
    {
        var ct = TestContext.Current.CancellationToken;
        var body = DaprEnvelope("twice-" + _appId, """{"aggregateId":"sidecar-a","number":"501"}""");
        await PublishAsDaprAsync(body, ct);
        await PublishAsDaprAsync(body, ct);

        await Samples.EventuallyAsync(() => Task.FromResult(Sidecar.Deliveries.Count == 2), TimeSpan.FromSeconds(30), "both deliveries answered", ct);
        Sidecar.Deliveries.ShouldAllBe(d => d.Status == HttpStatusCode.OK && d.Reply == "SUCCESS");
        (await Samples.EffectsAsync(database.ConnectionString, _appId, ct)).ShouldBe(1);
        (await Samples.ScalarAsync(database.ConnectionString, $"SELECT count(*) FROM eventbus_inbox WHERE consumer = '{Queue}' AND event_id = 'twice-{_appId}'", ct)).ShouldBe(1);
        (await Samples.ReadyAsync(vhost.AmqpUri, EventNames.DeadLetterQueue(Queue), ct)).ShouldBe(0u);
    }

    [Fact]
    public async Task ARetryIsDeliveredAgainAndThenHandledOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var poison = _service!.Services.GetRequiredService<PoisonSwitch>();
        poison.Failures = 2; // Both attempts of the first delivery (MaxAttempts 2).

        await PublishAsDaprAsync(DaprEnvelope("retried-" + _appId, """{"aggregateId":"sidecar-r","number":"503","note":"poison"}"""), ct);

        await Samples.EventuallyAsync(() => Task.FromResult(Sidecar.Deliveries.Count == 2), TimeSpan.FromSeconds(30), "the delivery and its retry answered", ct);
        Sidecar.Deliveries.Select(d => d.Reply).ShouldBe(["RETRY", "SUCCESS"]);
        poison.Attempts.ShouldBe(3);
        (await Samples.EffectsAsync(database.ConnectionString, _appId, ct)).ShouldBe(1);
        (await Samples.ReadyAsync(vhost.AmqpUri, EventNames.DeadLetterQueue(Queue), ct)).ShouldBe(0u);
    }

    [Fact]
    public async Task AHandlerThatKeepsFailingIsRetriedThenDeadLetteredAndNeverAcknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        var poison = _service!.Services.GetRequiredService<PoisonSwitch>();
        poison.Enabled = true;

        await PublishAsDaprAsync(DaprEnvelope("poison-" + _appId, """{"aggregateId":"sidecar-p","number":"502","note":"poison"}"""), ct);

        var deadLetters = EventNames.DeadLetterQueue(Queue);
        await Samples.EventuallyAsync(async () => await Samples.ReadyAsync(vhost.AmqpUri, deadLetters, ct) == 1, TimeSpan.FromSeconds(30), "the poison event dead-lettered", ct);
        Sidecar.Deliveries.Select(d => d.Reply).ShouldBe(["RETRY", "RETRY"]); // The delivery and the sidecar's retry; never SUCCESS.
        poison.Attempts.ShouldBe(4); // Two attempts in the app per delivery.
        (await Samples.EffectsAsync(database.ConnectionString, _appId, ct)).ShouldBe(0);
        (await DeadLetterIdsAsync(deadLetters, ct)).ShouldBe(["poison-" + _appId]);
    }

    [Fact]
    public async Task AnUnreadableDeliveryIsDroppedToTheDeadLettersAndAnUnknownRouteIsNotFound()
    {
        var ct = TestContext.Current.CancellationToken;
        // A CloudEvent (the sidecar parses that much before delivering) whose data is no SampleRecorded.
        await PublishAsDaprAsync(DaprEnvelope("unreadable-" + _appId, """{"aggregateId":"sidecar-u","number":"not a number"}"""), ct);

        var deadLetters = EventNames.DeadLetterQueue(Queue);
        await Samples.EventuallyAsync(async () => await Samples.ReadyAsync(vhost.AmqpUri, deadLetters, ct) == 1, TimeSpan.FromSeconds(30), "the unreadable event dead-lettered", ct);
        Sidecar.Deliveries.Select(d => d.Reply).ShouldBe(["DROP"]); // Not retried.
        (await DeadLetterIdsAsync(deadLetters, ct)).ShouldBe(["unreadable-" + _appId]);

        using var http = new HttpClient();
        using var unknown = await http.PostAsync(new Uri(_app!, "eventbus/no-such-topic"), new StringContent(DaprEnvelope("unknown", "{}"), Encoding.UTF8, "application/cloudevents+json"), ct);
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TheRelayPublishesEachStoredCloudEventThroughDaprClientUnchangedAndRetriesWhatTheSidecarRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        byte[] stored;
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await _service!.Services.GetRequiredService<Outbox>().EnqueueAsync(connection, transaction, "sidecar-out",
                new SampleRecorded { AggregateId = "sidecar-out", Number = 900 }, ct);
            await using var read = new NpgsqlCommand("SELECT envelope FROM eventbus_outbox WHERE aggregate_id = 'sidecar-out'", connection, transaction);
            stored = (byte[])(await read.ExecuteScalarAsync(ct))!;
            await transaction.CommitAsync(ct);
        }

        // Refused once (as a broker failure), published again; then the sidecar delivers it back to this app, which handles it once.
        await Samples.EventuallyAsync(async () => await Samples.EffectsAsync(database.ConnectionString, _appId, ct) == 1,
            TimeSpan.FromSeconds(30), "the event published through the sidecar and delivered back", ct);
        var publishes = Sidecar.Publishes;
        publishes.Count.ShouldBe(2);
        foreach (var publish in publishes)
        {
            (publish.PubsubName, publish.Topic, publish.DataContentType).ShouldBe(("pubsub", Samples.Topic, "application/cloudevents+json"));
            publish.Data.ToByteArray().ShouldBe(stored);
        }

        var envelope = CloudEvent.Parse(stored);
        (envelope.Source, envelope.Subject, envelope.Type).ShouldBe((_appId, "sidecar-out", "transformation.samples.sample-recorded.v1"));
        (await Samples.ScalarAsync(database.ConnectionString, $"SELECT count(*) FROM eventbus_inbox WHERE consumer = '{Queue}' AND event_id = '{envelope.Id}'", ct)).ShouldBe(1);
    }

    /// <summary>What the component puts on the queue after a sidecar's publish: the CloudEvent bytes, text/plain, persistent.</summary>
    private async Task PublishAsDaprAsync(string body, CancellationToken ct)
    {
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        await channel.BasicPublishAsync(Samples.Topic, "", mandatory: false, new BasicProperties { ContentType = "text/plain", Persistent = true }, Encoding.UTF8.GetBytes(body), ct);
    }

    private async Task<List<string>> DeadLetterIdsAsync(string queue, CancellationToken ct)
    {
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        var ids = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: false, ct) is { } message)
        {
            using var json = JsonDocument.Parse(message.Body);
            ids.Add(json.RootElement.GetProperty("id").GetString()!);
        }

        return ids;
    }

    private static string DaprEnvelope(string id, string data) =>
        $$"""{"id":"{{id}}","source":"orders","type":"com.dapr.event.sent","specversion":"1.0","datacontenttype":"application/json","data":{{data}},"topic":"sample-recorded","pubsubname":"pubsub","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","time":"2026-11-22T10:15:42+01:00"}""";
}
