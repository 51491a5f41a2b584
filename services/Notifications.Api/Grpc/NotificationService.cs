using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.Api.Model;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Grpc;

/// <summary>Thin: validates, reads or writes the webhook tables (Infrastructure), maps. The inbox is in NotificationService.Inbox.cs.</summary>
public sealed partial class NotificationService(NotificationsDatabase database, TimeProvider time, InboxHub inboxHub, IHostApplicationLifetime lifetime) : V1.NotificationService.NotificationServiceBase
{
    private const int MaxListed = 200;

    public override async Task<RegisterWebhookEndpointResponse> RegisterWebhookEndpoint(RegisterWebhookEndpointRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        if (WebhookEndpoints.Violations(request) is { Count: > 0 } violations)
        {
            throw RpcErrors.InvalidArgument("The webhook endpoint cannot be registered: " + violations[0].Description, violations);
        }

        var endpoint = new WebhookEndpoint
        {
            EndpointId = Guid.NewGuid().ToString(),
            Url = request.Url,
            EventTypes = { request.EventTypes },
            Format = request.Format,
            Description = request.Description,
            CreatedBy = caller.Subject,
            CreatedAt = Timestamp.FromDateTimeOffset(Sql.AsStored(time.GetUtcNow())),
        };
        var secret = WebhookEndpoints.NewSecret();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        await WebhookStore.InsertEndpointAsync(connection, endpoint, secret, context.CancellationToken);
        return new RegisterWebhookEndpointResponse { Endpoint = endpoint, Secret = secret };
    }

    public override async Task<ListWebhookEndpointsResponse> ListWebhookEndpoints(ListWebhookEndpointsRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new ListWebhookEndpointsResponse { Endpoints = { await WebhookStore.ListEndpointsAsync(connection, context.CancellationToken) } };
    }

    public override Task<ListWebhookEventTypesResponse> ListWebhookEventTypes(ListWebhookEventTypesRequest request, ServerCallContext context) =>
        Task.FromResult(new ListWebhookEventTypesResponse { EventTypes = { WebhookEventTypes.List() } });

    public override async Task<ListWebhookDeliveriesResponse> ListWebhookDeliveries(ListWebhookDeliveriesRequest request, ServerCallContext context)
    {
        var endpointId = RequireId(request.EndpointId, "endpoint_id");
        var limit = Limit(request.Limit);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        if (!await WebhookStore.EndpointExistsAsync(connection, endpointId, ct))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"There is no webhook endpoint {request.EndpointId}."));
        }

        return new ListWebhookDeliveriesResponse { Deliveries = { await WebhookStore.ListDeliveriesAsync(connection, endpointId, limit, ct) } };
    }

    public override async Task<ListWebhookDeadLettersResponse> ListWebhookDeadLetters(ListWebhookDeadLettersRequest request, ServerCallContext context)
    {
        var limit = Limit(request.Limit);
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new ListWebhookDeadLettersResponse { DeadLetters = { await WebhookStore.ListDeliveriesAsync(connection, null, limit, context.CancellationToken) } };
    }

    public override async Task<ReplayWebhookDeadLetterResponse> ReplayWebhookDeadLetter(ReplayWebhookDeadLetterRequest request, ServerCallContext context)
    {
        var deliveryId = RequireId(request.DeliveryId, "delivery_id");
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var replayed = await WebhookStore.ReplayAsync(connection, deliveryId, time.GetUtcNow(), ct);
        if (replayed is not null)
        {
            return new ReplayWebhookDeadLetterResponse { Delivery = replayed };
        }

        throw await WebhookStore.DeliveryExistsAsync(connection, deliveryId, ct)
            ? new RpcException(new Status(StatusCode.FailedPrecondition, $"The delivery {request.DeliveryId} is not a dead letter: only dead letters are replayed."))
            : new RpcException(new Status(StatusCode.NotFound, $"There is no webhook delivery {request.DeliveryId}."));
    }

    private static Guid RequireId(string value, string field) =>
        Guid.TryParse(value, out var id)
            ? id
            : throw RpcErrors.InvalidArgument($"{field} must be an id as the service answered it.", (field, value.Length == 0 ? "Required." : $"'{value}' is not an id."));

    private static int Limit(int limit) =>
        limit switch
        {
            < 0 => throw RpcErrors.InvalidArgument("limit may not be negative.", ("limit", "May not be negative.")),
            0 or > MaxListed => MaxListed,
            _ => limit,
        };
}
