using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

/// <summary>
/// What a Dapr sidecar calls in sidecar mode, on the HTTP/1.1 port: <c>GET /dapr/subscribe</c> lists the
/// subscriptions, and it POSTs each delivery to <c>/eventbus/{topic}</c>. Replies follow Dapr's contract:
/// SUCCESS (handled or duplicate), RETRY (the handler kept failing: Dapr's policy or the component decides,
/// with our component the broker dead-letters it), DROP (unreadable); an unknown route answers 404, which Dapr drops.
/// </summary>
public static class DaprEndpoints
{
    public const string SubscribePath = "/dapr/subscribe";
    public const string RoutePrefix = "/eventbus/";

    public static IEndpointRouteBuilder MapEventBus(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<EventBusOptions>>().Value;
        if (options.Mode != EventBusMode.DaprSidecar)
        {
            return endpoints;
        }

        var subscriptions = endpoints.ServiceProvider.GetServices<Subscription>().ToDictionary(s => s.Topic, StringComparer.Ordinal);
        var descriptions = subscriptions.Keys.Select(topic => new DaprSubscription(options.PubSubName, topic, RoutePrefix + topic)).ToArray();
        var httpPort = endpoints.ServiceProvider.GetRequiredService<IOptions<ServiceOptions>>().Value.HttpPort;

        var subscribe = endpoints.MapGet(SubscribePath, () => Results.Json(descriptions));
        var deliver = endpoints.MapPost(RoutePrefix + "{topic}", async (string topic, HttpRequest request, EventProcessor processor) =>
        {
            if (!subscriptions.TryGetValue(topic, out var subscription))
            {
                return Results.NotFound();
            }

            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            var outcome = await processor.ProcessAsync(subscription, body.GetBuffer().AsMemory(0, (int)body.Length), request.HttpContext.RequestAborted);
            return Results.Json(new DaprStatus(outcome switch
            {
                Outcome.Handled or Outcome.Duplicate => "SUCCESS",
                Outcome.Rejected => "DROP",
                _ => "RETRY",
            }));
        });

        if (httpPort != 0)
        {
            // The sidecar speaks HTTP/1.1; the gRPC port is HTTP/2 only.
            subscribe.RequireHost($"*:{httpPort}");
            deliver.RequireHost($"*:{httpPort}");
        }

        return endpoints;
    }

    private sealed record DaprSubscription(
        [property: JsonPropertyName("pubsubname")] string PubSubName,
        [property: JsonPropertyName("topic")] string Topic,
        [property: JsonPropertyName("route")] string Route);

    private sealed record DaprStatus([property: JsonPropertyName("status")] string Status);
}
