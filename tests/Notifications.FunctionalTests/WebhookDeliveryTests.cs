using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.EventBus;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Notifications.V1;
using Transformation.TestSupport;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>
/// Issue 25, acceptance 2: events published on the broker reach a real HTTP receiver on loopback, signed as Standard
/// Webhooks signs; a failing receiver leads to retries and a dead letter, which replays with the same webhook-id; an event
/// is never delivered under two ids; a restart loses nothing. Each test has its own service, database and vhost.
/// </summary>
public sealed class WebhookDeliveryTests(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly NotificationsHost _host = new(postgres, rabbitMq);
    private WebhookReceiver _receiver = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _host.InitializeAsync();
        _receiver = await WebhookReceiver.StartAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task EachDeliveryIsTheCloudEventSignedWithTheEndpointSecretOverIdTimestampAndBody()
    {
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "recognition-published", "success-story-published");
        var recognition = Event(Recognition("r-1"));
        var story = Event(new SuccessStoryPublished { StoryId = "s-1", Title = "Ship it", Body = "We did.", PublishedAt = Now });

        await TestEvents.PublishAsync(_host.AmqpUri, [recognition, story], Ct);
        await EventuallyAsync(() => _receiver.Accepted.Count() == 2);

        foreach (var (received, sent) in _receiver.Accepted.Select(r => (r, r.WebhookId == recognition.Id ? recognition : story)))
        {
            received.WebhookId.ShouldBe(sent.Id);
            received.Headers["Content-Type"].ShouldStartWith(CloudEvent.MediaType);
            var body = CloudEvent.Parse(Encoding.UTF8.GetBytes(received.Body));
            body.Id.ShouldBe(sent.Id);
            body.Type.ShouldBe(sent.Type);
            received.Body.ShouldBe(CloudEvent.Parse(sent.ToUtf8Json()).ToString()); // the published event as it travelled, attributes and data
            received.Headers["webhook-signature"].Split(' ').ShouldContain(Signature(registered.Secret, received));
            received.Headers["webhook-signature"].Split(' ').ShouldNotContain(Signature("whsec_" + Convert.ToBase64String(new byte[32]), received));
        }
    }

    [Fact]
    public async Task AChatEndpointGetsASentenceAPersonCanRead()
    {
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.ChatText, "recognition-published");
        var recognition = Event(Recognition("r-chat"));

        await TestEvents.PublishAsync(_host.AmqpUri, [recognition], Ct);
        await EventuallyAsync(() => _receiver.Accepted.Any());

        var received = _receiver.Accepted.Single();
        using var body = JsonDocument.Parse(received.Body);
        body.RootElement.GetProperty("text").GetString().ShouldBe("emp-7 was recognised for \"Helps others\" (10 points) by emp-2: Thanks for the review.");
        received.WebhookId.ShouldBe(recognition.Id);
        received.Headers["webhook-signature"].Split(' ').ShouldContain(Signature(registered.Secret, received));
    }

    [Fact]
    public async Task AFailingReceiverIsRetriedThenDeadLetteredAndTheReplayDeliversTheSameWebhookId()
    {
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "recognition-published");
        _receiver.Failing = true;
        var recognition = Event(Recognition("r-dead"));

        await TestEvents.PublishAsync(_host.AmqpUri, [recognition], Ct);
        var dead = await EventuallyAsync(async () =>
            (await _host.CallAsync<ListWebhookDeadLettersRequest, ListWebhookDeadLettersResponse>("ListWebhookDeadLetters", new())).DeadLetters.SingleOrDefault());

        dead.EventId.ShouldBe(recognition.Id);
        dead.EndpointId.ShouldBe(registered.Endpoint.EndpointId);
        dead.Status.ShouldBe(WebhookDeliveryStatus.Dead);
        dead.Attempts.ShouldBe(3);
        dead.Log.Select(a => a.StatusCode).ShouldBe([500, 500, 500]);
        _receiver.Received.Count.ShouldBe(3);

        _receiver.Failing = false;
        var replayed = await _host.CallAsync<ReplayWebhookDeadLetterRequest, ReplayWebhookDeadLetterResponse>("ReplayWebhookDeadLetter",
            new ReplayWebhookDeadLetterRequest { DeliveryId = dead.DeliveryId });
        replayed.Delivery.Status.ShouldBe(WebhookDeliveryStatus.Pending);
        await EventuallyAsync(() => _receiver.Accepted.Any());

        _receiver.Received.Select(r => r.WebhookId).Distinct().ShouldBe([recognition.Id]);
        _receiver.Accepted.Single().Headers["webhook-signature"].Split(' ').ShouldContain(Signature(registered.Secret, _receiver.Accepted.Single()));
        var log = (await _host.DeliveriesAsync(registered.Endpoint.EndpointId)).Single();
        log.Status.ShouldBe(WebhookDeliveryStatus.Delivered);
        log.Log.Select(a => a.StatusCode).ShouldBe([500, 500, 500, 200]);
        (await _host.CallAsync<ListWebhookDeadLettersRequest, ListWebhookDeadLettersResponse>("ListWebhookDeadLetters", new())).DeadLetters.ShouldBeEmpty();
    }

    [Fact]
    public async Task ARedeliveredEventIsDeliveredOnceUnderItsOwnId()
    {
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "recognition-published");
        var twice = Event(Recognition("r-twice"));
        var after = Event(Recognition("r-after"));

        // The broker redelivers the same CloudEvent; the one after it on the queue shows that the copy has been consumed.
        await TestEvents.PublishAsync(_host.AmqpUri, [twice, twice, after], Ct);
        await EventuallyAsync(() => _receiver.Accepted.Any(r => r.WebhookId == after.Id));

        _receiver.Received.Select(r => r.WebhookId).ShouldBe([twice.Id, after.Id], ignoreOrder: true);
        foreach (var received in _receiver.Received)
        {
            CloudEvent.Parse(Encoding.UTF8.GetBytes(received.Body)).Id.ShouldBe(received.WebhookId);
        }

        (await _host.DeliveriesAsync(registered.Endpoint.EndpointId)).Count.ShouldBe(2);
    }

    [Fact]
    public async Task ARestartMidwayLosesNothingAndDeliversEachEventOnceUnderItsId()
    {
        // Enough attempts that the deliveries failing before the restart are still pending after it.
        await _host.StopAsync();
        _host.Settings["Notifications:WebhookMaxAttempts"] = "50";
        _host.Settings["Notifications:WebhookRetryMaxDelay"] = "00:00:01";
        await _host.StartAsync();
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "recognition-published");
        _receiver.Failing = true;
        var before = Enumerable.Range(0, 5).Select(i => Event(Recognition($"r-before-{i}"))).ToList();
        await TestEvents.PublishAsync(_host.AmqpUri, before, Ct);
        await EventuallyAsync(() => _receiver.Received.Select(r => r.WebhookId).Distinct().Count() == before.Count);

        await _host.StopAsync();
        var whileDown = Enumerable.Range(0, 5).Select(i => Event(Recognition($"r-down-{i}"))).ToList();
        await TestEvents.PublishAsync(_host.AmqpUri, whileDown, Ct);
        _receiver.Failing = false;
        await _host.StartAsync();
        await EventuallyAsync(() => _receiver.Accepted.Count() >= 10);

        _receiver.Accepted.Select(r => r.WebhookId).ShouldBe([.. before.Select(e => e.Id), .. whileDown.Select(e => e.Id)], ignoreOrder: true);
        // The receiver's 200 comes before the dispatcher records it: wait for the records.
        await EventuallyAsync(async () => (await _host.DeliveriesAsync(registered.Endpoint.EndpointId)) is { Count: 10 } all
            && all.All(d => d.Status == WebhookDeliveryStatus.Delivered) ? "held" : null);
    }

    [Fact]
    public async Task ADeliveryOfACallOutTopicIsWithheldAtDispatchEvenIfOneWereStored()
    {
        var registered = await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "recognition-published");
        var callOut = Event(new BehaviourObserved { ObservationId = "o-1", EmployeeId = "emp-7", Polarity = Polarity.Unacceptable, Evidence = "private" });
        var recognition = Event(Recognition("r-beside"));

        // Registration refuses the topic and the service does not subscribe to it: write such a row behind its back.
        await TestSql.ScalarAsync(_host.Database, $"""
            INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, event_type, body, status, created_at, next_attempt_at)
            VALUES (gen_random_uuid(), '{registered.Endpoint.EndpointId}', '{callOut.Id}', 'behaviour-observed', @p, 1, now(), now()) RETURNING 1
            """, Ct, callOut.ToString());
        await TestEvents.PublishAsync(_host.AmqpUri, [recognition], Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM webhook_deliveries WHERE status IN (2, 4)", 2);

        _receiver.Received.Select(r => r.WebhookId).ShouldBe([recognition.Id]);
        (await _host.DeliveriesAsync(registered.Endpoint.EndpointId)).Single(d => d.EventId == callOut.Id).Status.ShouldBe(WebhookDeliveryStatus.Withheld);
    }

    private static Timestamp Now => Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);

    private static RecognitionPublished Recognition(string rewardId) => new()
    {
        RewardId = rewardId, EmployeeId = "emp-7", BehaviourId = "b-1", BehaviourName = "Helps others", GiverId = "emp-2",
        Message = "Thanks for the review.", Points = 10, PublishedAt = Now,
    };

    private static CloudEvent Event(IMessage message) =>
        CloudEvent.Create(message, message.Descriptor.File.Package.Split('.')[1], "subject", "pubsub", Guid.NewGuid());

    /// <summary>Standard Webhooks' signature, recomputed here: "v1," and base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the secret's bytes.</summary>
    private static string Signature(string secret, Received received)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{received.WebhookId}.{received.Timestamp}.{received.Body}"));
        return "v1," + Convert.ToBase64String(signed);
    }

    private static Task<string> EventuallyAsync(Func<bool> condition) => EventuallyAsync(() => Task.FromResult(condition() ? "held" : null));

    /// <summary>Polls until <paramref name="probe"/> answers non-null; fails after 30 s.</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold within 30 s.");
            }

            await Task.Delay(50, Ct);
        }
    }
}
