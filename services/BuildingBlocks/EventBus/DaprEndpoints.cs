using Dapr;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults;
using static Dapr.AppCallback.Autogen.Grpc.v1.TopicEventResponse.Types;
using TopicEventResponse = Dapr.AppCallback.Autogen.Grpc.v1.TopicEventResponse;

namespace Transformation.EventBus;

/// <summary>
/// What the Dapr sidecar calls in sidecar mode, on the HTTP/1.1 port (<c>dapr.io/app-protocol: http</c>), through
/// Dapr.AspNetCore: <c>GET /dapr/subscribe</c> (<c>MapSubscribeHandler</c>) lists one route per subscription
/// (<c>WithTopic</c>), <c>/eventbus/{topic}</c>, to which the sidecar POSTs each CloudEvent as the broker holds it.
/// The route takes the raw CloudEvent (no <c>UseCloudEvents</c> unwrapping), so the inbox sees the envelope's id.
/// </summary>
public static class DaprEndpoints
{
    public const string RoutePrefix = "/eventbus/";

    // With default values, so that SUCCESS (the enum's 0) is written too rather than {}, which Dapr also reads as SUCCESS.
    private static readonly JsonFormatter ReplyFormatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>
    /// In DaprSidecar mode, maps the subscription list and a delivery route per subscription on the HTTP port; in RabbitMq
    /// mode maps nothing, so that the sidecar subscribes to nothing (it reads a 404 from <c>/dapr/subscribe</c> as "none").
    /// </summary>
    public static IEndpointRouteBuilder MapEventBus(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<EventBusOptions>>().Value;
        if (options.Mode != EventBusMode.DaprSidecar)
        {
            return endpoints;
        }

        var service = endpoints.ServiceProvider.GetRequiredService<IOptions<ServiceOptions>>().Value;
        var sidecar = endpoints.MapGroup("");
        if (service.HttpPort != 0)
        {
            // The sidecar speaks HTTP/1.1; the gRPC port is HTTP/2 only.
            sidecar.RequireHost($"*:{service.HttpPort}");
        }

        sidecar.MapSubscribeHandler();
        foreach (var subscription in endpoints.ServiceProvider.GetServices<Subscription>())
        {
            sidecar.MapPost(RoutePrefix + subscription.Topic, (HttpRequest request, EventProcessor processor) => DeliverAsync(subscription, request, processor))
                .WithTopic(new TopicOptions
                {
                    PubsubName = options.PubSubName,
                    Name = subscription.Topic,
                    // What the sidecar drops (or gives up retrying) it republishes to this topic: the exchange that the
                    // broker dead-letters the queue into, so every dead letter waits in dlq-<queue>, as in RabbitMq mode.
                    DeadLetterTopic = EventNames.DeadLetterExchange(EventNames.Queue(service.Name, subscription.Topic)),
                });
        }

        return endpoints;
    }

    /// <summary>
    /// Handles one delivery and answers Dapr's delivery contract: SUCCESS (handled, or a duplicate the inbox absorbed),
    /// RETRY (the handler failed through every attempt: never acknowledged), DROP (unreadable; the sidecar sends it to the
    /// dead-letter topic).
    /// </summary>
    private static async Task<IResult> DeliverAsync(Subscription subscription, HttpRequest request, EventProcessor processor)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
        var outcome = await processor.ProcessAsync(subscription, body.GetBuffer().AsMemory(0, (int)body.Length), request.HttpContext.RequestAborted);
        var reply = new TopicEventResponse
        {
            Status = outcome switch
            {
                Outcome.Handled or Outcome.Duplicate => TopicEventResponseStatus.Success,
                Outcome.Rejected => TopicEventResponseStatus.Drop,
                _ => TopicEventResponseStatus.Retry,
            },
        };

        // The reply of the sidecar's AppCallback contract in its JSON form, {"status":"SUCCESS|RETRY|DROP"}, which is the HTTP reply.
        return Results.Content(ReplyFormatter.Format(reply), "application/json");
    }
}
