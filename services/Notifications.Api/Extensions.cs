using Transformation.EventBus;
using Microsoft.Extensions.Options;
using Transformation.GrpcHosting;
using Transformation.Mail;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.Api.IntegrationEvents.Handlers;
using Transformation.Notifications.Api.Model;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
// Ours, not the generated NotificationService of the contracts (its clients).
using NotificationService = Transformation.Notifications.Api.Grpc.NotificationService;

namespace Transformation.Notifications.Api;

public static class Extensions
{
    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        ["RegisterWebhookEndpoint"] = RpcAccess.Roles(Access.WebhookOperators),
        ["ListWebhookEndpoints"] = RpcAccess.Roles(Access.WebhookOperators),
        ["ListWebhookEventTypes"] = RpcAccess.Roles(Access.WebhookOperators),
        ["ListWebhookDeliveries"] = RpcAccess.Roles(Access.WebhookOperators),
        ["ListWebhookDeadLetters"] = RpcAccess.Roles(Access.WebhookOperators),
        ["ReplayWebhookDeadLetter"] = RpcAccess.Roles(Access.WebhookOperators),
        // Each person their own (the caller's subject; Access.MayReadInbox where an id could name someone else's).
        ["ListMyNotifications"] = RpcAccess.Roles(Access.People),
        ["MarkNotificationsRead"] = RpcAccess.Roles(Access.People),
        ["WatchMyNotifications"] = RpcAccess.Roles(Access.People),
        ["GetMyNotificationPreferences"] = RpcAccess.Roles(Access.People),
        ["SetMyNotificationPreferences"] = RpcAccess.Roles(Access.People),
    };

    public static WebApplicationBuilder AddNotificationsService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();
        builder.AddValidatedOptions<NotificationsOptions>(NotificationsOptions.Section);

        // The tables exist before the event bus's consumers start (hosted services start in registration order).
        services.AddSingleton<NotificationsDatabase>();
        services.AddHostedService<NotificationsSchema>();
        builder.AddEventBus();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<NotificationService>();
        services.AddScoped(typeof(RecordWebhookDeliveries<>));
        WebhookEventTypes.Subscribe(services);
        services.AddSingleton<InboxHub>();
        services.AddHostedService(provider => provider.GetRequiredService<InboxHub>());
        services.AddSingleton<DigestScheduler>();
        services.AddHostedService(provider => provider.GetRequiredService<DigestScheduler>());
        services.AddMailOutboxSender("Notifications:Mail", provider => provider.GetRequiredService<IOptions<NotificationsOptions>>().Value.Mail,
            provider => provider.GetRequiredService<NotificationsDatabase>().OpenAsync);
        // No redirects: an endpoint is the URL that was registered (and checked), not wherever it points on.
        services.AddHttpClient(WebhookDispatcher.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        services.AddHostedService<WebhookDispatcher>();
        return builder;
    }

    public static WebApplication MapNotificationsService(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapDefaultEndpoints();
        app.MapGrpcService<NotificationService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        return app;
    }
}
