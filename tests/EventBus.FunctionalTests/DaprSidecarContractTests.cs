using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;
using Transformation.ServiceDefaults;
using Transformation.TestSupport;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>
/// Sidecar mode, checked with the requests a Dapr sidecar sends (protocols.md §2.1–2.4): subscription discovery,
/// deliveries and their SUCCESS/RETRY/DROP/404 replies on the HTTP/1.1 port, and publishing through the sidecar's API.
/// </summary>
public sealed class DaprSidecarContractTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private readonly ConcurrentQueue<(string Path, string? ContentType, string Body)> _publishes = new();
    private WebApplication? _sidecar;
    private WebApplication? _service;
    private HttpClient? _http;

    private HttpClient Http => _http!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await SampleHost.EnsureEffectTableAsync(database.ConnectionString, ct);

        // A stand-in sidecar: refuses the first publish as a broker failure would (500 ERR_PUBSUB_PUBLISH_MESSAGE), then answers 204.
        var sidecarPort = Samples.FreePort();
        var sidecar = WebApplication.CreateSlimBuilder();
        sidecar.Logging.ClearProviders();
        sidecar.WebHost.UseUrls($"http://127.0.0.1:{sidecarPort}");
        _sidecar = sidecar.Build();
        _sidecar.MapPost("/v1.0/publish/{pubsub}/{**topic}", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            _publishes.Enqueue((request.Path.Value!, request.ContentType, await reader.ReadToEndAsync()));
            return _publishes.Count == 1
                ? Results.Json(new { errorCode = "ERR_PUBSUB_PUBLISH_MESSAGE", message = "broker down" }, statusCode: 500)
                : Results.NoContent();
        });
        await _sidecar.StartAsync(ct);

        var httpPort = Samples.FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Service:Name"] = "theta",
            ["Service:BindAddress"] = "localhost",
            ["Service:GrpcPort"] = Samples.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EventBus:Mode"] = "DaprSidecar",
            ["EventBus:DaprHttpPort"] = sidecarPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
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
        _http = new HttpClient { BaseAddress = new Uri($"http://localhost:{httpPort}") };
    }

    public async ValueTask DisposeAsync()
    {
        _http?.Dispose();
        if (_service is not null)
        {
            await _service.StopAsync();
            await _service.DisposeAsync();
        }

        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
        }
    }

    [Fact]
    public async Task TheSidecarDiscoversTheSubscriptions()
    {
        var ct = TestContext.Current.CancellationToken;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dapr/subscribe");
        request.Headers.Add("dapr-app-id", "theta");
        using var response = await Http.SendAsync(request, ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var subscription = json.RootElement.EnumerateArray().ShouldHaveSingleItem();
        subscription.GetProperty("pubsubname").GetString().ShouldBe("pubsub");
        subscription.GetProperty("topic").GetString().ShouldBe("sample-recorded");
        subscription.GetProperty("route").GetString().ShouldBe("/eventbus/sample-recorded");
    }

    [Fact]
    public async Task ADeliveryIsHandledOnceAndARedeliveryChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var body = DaprEnvelope("delivery-once", """{"aggregateId":"sidecar-a","number":"501"}""");

        (await DeliverAsync("/eventbus/sample-recorded", body, ct)).ShouldBe((HttpStatusCode.OK, "SUCCESS"));
        (await DeliverAsync("/eventbus/sample-recorded", body, ct)).ShouldBe((HttpStatusCode.OK, "SUCCESS"));

        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE number = 501", ct)).ShouldBe(1);
    }

    [Fact]
    public async Task AHandlerThatKeepsFailingAsksForARetryAndLeavesNoEffect()
    {
        var ct = TestContext.Current.CancellationToken;
        var poison = _service!.Services.GetRequiredService<PoisonSwitch>();
        poison.Enabled = true;

        var reply = await DeliverAsync("/eventbus/sample-recorded", DaprEnvelope("delivery-poison", """{"aggregateId":"sidecar-p","number":"502","note":"poison"}"""), ct);

        reply.ShouldBe((HttpStatusCode.OK, "RETRY"));
        poison.Attempts.ShouldBe(2);
        (await Samples.ScalarAsync(database.ConnectionString, "SELECT count(*) FROM sample_effects WHERE number = 502", ct)).ShouldBe(0);
    }

    [Fact]
    public async Task AnUnreadableDeliveryIsDroppedAndAnUnknownRouteIsNotFound()
    {
        var ct = TestContext.Current.CancellationToken;
        (await DeliverAsync("/eventbus/sample-recorded", "this is not a cloud event", ct)).ShouldBe((HttpStatusCode.OK, "DROP"));

        var unknown = await DeliverAsync("/eventbus/no-such-topic", DaprEnvelope("delivery-unknown", "{}"), ct);
        unknown.Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TheRelayPublishesThroughTheSidecarAndRetriesWhatItRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await _service!.Services.GetRequiredService<Outbox>().EnqueueAsync(connection, transaction, "sidecar-out",
                new SampleRecorded { AggregateId = "sidecar-out", Number = 900 }, ct);
            await transaction.CommitAsync(ct);
        }

        await Samples.EventuallyAsync(async () => await Samples.UnsentAsync(database.ConnectionString, ct) == 0,
            TimeSpan.FromSeconds(30), "the outbox row sent through the sidecar", ct);

        var publishes = _publishes.ToList();
        publishes.Count.ShouldBe(2); // Refused once, published again.
        foreach (var (path, contentType, body) in publishes)
        {
            path.ShouldBe("/v1.0/publish/pubsub/sample-recorded");
            contentType.ShouldBe("application/cloudevents+json");
            var envelope = CloudEvent.Parse(Encoding.UTF8.GetBytes(body));
            envelope.Type.ShouldBe("transformation.samples.sample-recorded.v1");
            (envelope.Source, envelope.Subject).ShouldBe(("theta", "sidecar-out"));
            envelope.DataAs(SampleRecorded.Parser).Number.ShouldBe(900);
        }

        CloudEvent.Parse(Encoding.UTF8.GetBytes(publishes[0].Body)).Id.ShouldBe(CloudEvent.Parse(Encoding.UTF8.GetBytes(publishes[1].Body)).Id);
    }

    /// <summary>What the sidecar POSTs: the CloudEvent bytes from the broker, Content-Type application/cloudevents+json, trace and pubsubName headers.</summary>
    private async Task<(HttpStatusCode Status, string? Reply)> DeliverAsync(string path, string body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/cloudevents+json");
        request.Headers.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        request.Headers.Add("pubsubName", "pubsub");
        using var response = await Http.SendAsync(request, ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, null);
        }

        var reply = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        return (response.StatusCode, reply.GetProperty("status").GetString());
    }

    private static string DaprEnvelope(string id, string data) =>
        $$"""{"id":"{{id}}","source":"orders","type":"com.dapr.event.sent","specversion":"1.0","datacontenttype":"application/json","data":{{data}},"topic":"sample-recorded","pubsubname":"pubsub","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","time":"2026-11-22T10:15:42+01:00"}""";
}
