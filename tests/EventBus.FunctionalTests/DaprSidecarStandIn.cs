using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>
/// What <c>daprd</c> does for one app with k8s/base/dapr/pubsub.yaml, on the wire, as shared/docs reference/protocols.md
/// §2.2–2.6 describes it (no daprd can be installed here). Publishing: the runtime's gRPC PublishEvent (the method DaprClient
/// calls), recorded, then published to the topic's exchange as the component does; it refuses the first publish as a broker
/// failure would. Subscribing: reads <c>GET /dapr/subscribe</c>, declares each subscription's queue as the component does
/// (the declarations DaprComponentTests proves equal to RabbitMqTopology's), POSTs each message's bytes to its route with
/// Content-Type application/cloudevents+json, and acts on the reply: SUCCESS acks; RETRY (or any other status, or a non-2xx
/// other than 404) delivers again up to <c>retries</c> times, as a resiliency retry policy does, then goes to the
/// deadLetterTopic (or, without one, is nacked without requeue); DROP (or 404) goes to the deadLetterTopic. Going to the
/// deadLetterTopic republishes the broker's bytes to that topic on the same component, then acks.
/// </summary>
internal sealed class DaprSidecarStandIn(Uri rabbitMq, string appId, int retries) : IAsyncDisposable
{
    private readonly ConcurrentQueue<PublishEventRequest> _publishes = new();
    private readonly ConcurrentQueue<(string Route, HttpStatusCode Status, string? Reply)> _deliveries = new();
    private readonly HttpClient _http = new();
    private WebApplication? _grpc;
    private IConnection? _connection;
    private IChannel? _channel;

    /// <summary>The address DaprClient is given (DAPR_GRPC_ENDPOINT).</summary>
    public string GrpcEndpoint { get; private set; } = "";

    /// <summary>Every PublishEvent request received, the refused one included.</summary>
    public IReadOnlyList<PublishEventRequest> Publishes => [.. _publishes];

    /// <summary>Every delivery to the app: its route, the HTTP status and the reply's status field.</summary>
    public IReadOnlyList<(string Route, HttpStatusCode Status, string? Reply)> Deliveries => [.. _deliveries];

    /// <summary>What <c>GET /dapr/subscribe</c> answered.</summary>
    public JsonElement Subscriptions { get; private set; }

    public async Task StartPublishApiAsync(CancellationToken cancellationToken)
    {
        var port = Samples.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(this);
        builder.Services.AddSingleton<IServiceMethodProvider<PublishApi>, PublishApi.Methods>();
        _grpc = builder.Build();
        _grpc.MapGrpcService<PublishApi>();
        await _grpc.StartAsync(cancellationToken);
        GrpcEndpoint = $"http://127.0.0.1:{port}";
        _channel = await OpenChannelAsync(cancellationToken);
    }

    /// <summary>Reads the app's subscriptions and starts delivering each subscription's queue to its route.</summary>
    public async Task SubscribeAsync(Uri app, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(app, "/dapr/subscribe"));
        request.Headers.Add("dapr-app-id", appId);
        using var response = await _http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        Subscriptions = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);

        foreach (var subscription in Subscriptions.EnumerateArray())
        {
            var topic = Field(subscription, "topic")!;
            var route = new Uri(app, Field(subscription, "route")!.TrimStart('/'));
            var deadLetterTopic = Field(subscription, "deadLetterTopic");
            var pubSubName = Field(subscription, "pubsubname")!;
            var queue = EventNames.Queue(appId, topic);
            var channel = await OpenChannelAsync(cancellationToken);
            await RabbitMqTopology.DeclareSubscriptionAsync(channel, topic, queue, cancellationToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, message) => DeliverAsync(channel, message, route, deadLetterTopic, pubSubName);
            await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken);
        }
    }

    /// <summary>A field of a subscription, matched as daprd's Go JSON decoding matches struct fields: ignoring case.</summary>
    public static string? Field(JsonElement subscription, string name) =>
        subscription.EnumerateObject().Where(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Select(p => p.Value.GetString()).FirstOrDefault();

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (_grpc is not null)
        {
            await _grpc.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync(); // And with it every channel: the publishing one and the subscriptions'.
        }
    }

    private async Task DeliverAsync(IChannel channel, BasicDeliverEventArgs message, Uri route, string? deadLetterTopic, string pubSubName)
    {
        var body = message.Body.ToArray();
        for (var attempt = 0; attempt <= retries; attempt++)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/cloudevents+json");
            using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = content };
            request.Headers.Add("pubsubName", pubSubName);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request);
            }
            catch (HttpRequestException)
            {
                // As daprd treats an app call that failed on the wire (a pooled connection closed under it, say): the attempt
                // is made again, and the delivery is never left unanswered. Not an answer of the app, so not among Deliveries.
                attempt--;
                await Task.Delay(100);
                continue;
            }

            using var _ = response;
            var reply = response.IsSuccessStatusCode ? Status(await response.Content.ReadAsStringAsync()) : null;
            _deliveries.Enqueue((route.AbsolutePath, response.StatusCode, reply));
            if (response.IsSuccessStatusCode && reply is null or "" or "SUCCESS")
            {
                await channel.BasicAckAsync(message.DeliveryTag, multiple: false);
                return;
            }

            if (response.StatusCode == HttpStatusCode.NotFound || reply == "DROP")
            {
                break;
            }
        }

        if (deadLetterTopic is null)
        {
            await channel.BasicNackAsync(message.DeliveryTag, multiple: false, requeue: false);
            return;
        }

        await PublishAsync(channel, deadLetterTopic, body);
        await channel.BasicAckAsync(message.DeliveryTag, multiple: false);
    }

    /// <summary>As the component publishes: declares the topic's exchange as pubsub.yaml says, persistent, content type text/plain.</summary>
    private static async Task PublishAsync(IChannel channel, string topic, byte[] body)
    {
        await RabbitMqTopology.DeclareTopicAsync(channel, topic);
        await channel.BasicPublishAsync(topic, "", mandatory: false, new BasicProperties { ContentType = "text/plain", Persistent = true }, body);
    }

    private static string? Status(string reply)
    {
        try
        {
            using var json = JsonDocument.Parse(reply);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("status", out var status) ? status.GetString() : null;
        }
        catch (JsonException)
        {
            return null; // Non-JSON: SUCCESS.
        }
    }

    /// <summary>A channel with publisher confirms (the component's publisherConfirm) on the stand-in's one connection.</summary>
    private async Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken)
    {
        _connection ??= await new ConnectionFactory { Uri = rabbitMq }.CreateConnectionAsync(cancellationToken);
        return await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
    }

    /// <summary>
    /// The runtime's <c>dapr.proto.runtime.v1.Dapr/PublishEvent</c>, served with the package's request and reply messages: Dapr.Protos
    /// generates the client side only, so the method is bound here from the service's descriptor.
    /// </summary>
    internal sealed class PublishApi(DaprSidecarStandIn sidecar)
    {
        public async Task<Empty> PublishEventAsync(PublishEventRequest request)
        {
            sidecar._publishes.Enqueue(request);
            if (sidecar._publishes.Count == 1)
            {
                // As daprd answers when the broker refuses the publish.
                throw new RpcException(new Status(StatusCode.Internal, $"ERR_PUBSUB_PUBLISH_MESSAGE: error when publish to topic {request.Topic} in pubsub {request.PubsubName}: broker down"));
            }

            // The component publishes the CloudEvent it was given (Dapr keeps its fields; topic and pubsubname are ours already).
            await PublishAsync(sidecar._channel!, request.Topic, request.Data.ToByteArray());
            return new Empty();
        }

        internal sealed class Methods : IServiceMethodProvider<PublishApi>
        {
            public void OnServiceMethodDiscovery(ServiceMethodProviderContext<PublishApi> context)
            {
                var descriptor = Dapr.Client.Autogen.Grpc.v1.Dapr.Descriptor.FindMethodByName("PublishEvent");
                var method = new Method<PublishEventRequest, Empty>(MethodType.Unary, descriptor.Service.FullName, descriptor.Name,
                    Marshallers.Create(r => r.ToByteArray(), PublishEventRequest.Parser.ParseFrom),
                    Marshallers.Create(e => e.ToByteArray(), Empty.Parser.ParseFrom));
                context.AddUnaryMethod(method, [], (service, request, _) => service.PublishEventAsync(request));
            }
        }
    }
}
