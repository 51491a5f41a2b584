using Google.Protobuf;
using Microsoft.Extensions.Options;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.Api.Model;

namespace Transformation.Notifications.Api.IntegrationEvents.Handlers;

/// <summary>
/// Every event this service hears, in its inbox row's transaction (one handler per topic): the webhook deliveries, the copy of
/// the people and units the inboxes name, and the inboxes (<see cref="Inbox.Changes"/>). A redelivered event changes nothing.
/// </summary>
public sealed class HandleIntegrationEvent<TEvent>(RecordWebhookDeliveries<TEvent> webhooks, IOptions<NotificationsOptions> options, TimeProvider time)
    : IHandleEvent<TEvent>
    where TEvent : IMessage<TEvent>
{
    public async Task HandleAsync(TEvent message, EventContext context, CancellationToken cancellationToken)
    {
        await webhooks.HandleAsync(message, context, cancellationToken);
        var (connection, transaction) = (context.Connection, context.Transaction);
        switch (message)
        {
            case EmployeeJoined { Employee: { } employee }:
                await InboxStore.UpsertPersonAsync(connection, transaction, employee, cancellationToken);
                break;
            case EmployeeMoved { Employee: { } employee }:
                await InboxStore.UpsertPersonAsync(connection, transaction, employee, cancellationToken);
                break;
            case EmployeeUpdated { Employee: { } employee }:
                await InboxStore.UpsertPersonAsync(connection, transaction, employee, cancellationToken);
                break;
            case EmployeeLeft { Employee: { } employee }:
                await InboxStore.UpsertPersonAsync(connection, transaction, employee, cancellationToken);
                break;
            case EmployeeErased erased:
                await InboxStore.ForgetPersonAsync(connection, transaction, erased.EmployeeId, erased.Version, cancellationToken);
                break;
            case OrgUnitChanged { OrgUnit: { } unit }:
                await InboxStore.UpsertUnitAsync(connection, transaction, unit, cancellationToken);
                break;
            default:
                await InboxStore.ApplyAsync(connection, transaction, context.CloudEvent.Id, Inbox.Changes(message), time.GetUtcNow(),
                    options.Value.Mail.PortalUri, cancellationToken);
                break;
        }
    }
}
