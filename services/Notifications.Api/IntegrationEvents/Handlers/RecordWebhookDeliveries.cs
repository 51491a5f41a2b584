using System.Text;
using Google.Protobuf;
using Transformation.EventBus;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.Api.Model;

namespace Transformation.Notifications.Api.IntegrationEvents.Handlers;

/// <summary>
/// One delivery per endpoint registered for the event's topic, written in the transaction of the event's inbox row:
/// a redelivered event changes nothing, and (event id, endpoint) is unique besides. The dispatcher POSTs them.
/// </summary>
public sealed class RecordWebhookDeliveries<TEvent>(TimeProvider time) : IHandleEvent<TEvent>
    where TEvent : IMessage<TEvent>
{
    public Task HandleAsync(TEvent message, EventContext context, CancellationToken cancellationToken)
    {
        var cloudEvent = context.CloudEvent;
        var topic = EventNames.Topic(message.Descriptor);
        if (WebhookEventTypes.Withheld.Contains(topic))
        {
            return Task.CompletedTask;
        }

        var chat = WebhookEventTypes.AllowsChat(topic) ? ChatText.Body(message) : null;
        return WebhookStore.AddDeliveriesAsync(context.Connection, context.Transaction, cloudEvent.Id, topic,
            Encoding.UTF8.GetString(cloudEvent.ToUtf8Json()), chat, time.GetUtcNow(), cancellationToken);
    }
}
