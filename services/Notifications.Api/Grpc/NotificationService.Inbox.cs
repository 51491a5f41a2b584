using System.Globalization;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.Api.Model;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Grpc;

/// <summary>The caller's own inbox and mail preference: every RPC here reads or writes the caller's, never anyone else's.</summary>
public sealed partial class NotificationService
{
    private const int MaxPage = 100;

    public override async Task<ListMyNotificationsResponse> ListMyNotifications(ListMyNotificationsRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var pageSize = request.PageSize switch
        {
            < 0 => throw RpcErrors.InvalidArgument("page_size may not be negative.", ("page_size", "May not be negative.")),
            0 or > MaxPage => MaxPage,
            _ => request.PageSize,
        };
        long? before = null;
        if (request.PageToken.Length > 0)
        {
            before = long.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out var token) && token > 0
                ? token
                : throw RpcErrors.InvalidArgument("page_token must be a next_page_token as the service answered it.", ("page_token", "Not a page token."));
        }

        await using var connection = await database.OpenAsync(context.CancellationToken);
        var (page, unread, next) = await InboxStore.ListAsync(connection, caller.Subject, before, pageSize, request.IncludeDone, context.CancellationToken);
        return new ListMyNotificationsResponse
        {
            Notifications = { page },
            UnreadCount = unread,
            NextPageToken = next?.ToString(CultureInfo.InvariantCulture) ?? "",
        };
    }

    public override async Task<MarkNotificationsReadResponse> MarkNotificationsRead(MarkNotificationsReadRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        if (request.All == request.NotificationIds.Count > 0)
        {
            throw RpcErrors.InvalidArgument("Name the notifications to mark read, or set all (not both).",
                ("notification_ids", request.All ? "Must be empty when all is set." : "Name at least one notification, or set all."));
        }

        var ids = new List<Guid>();
        for (var i = 0; i < request.NotificationIds.Count; i++)
        {
            ids.Add(Guid.TryParse(request.NotificationIds[i], out var id)
                ? id
                : throw RpcErrors.InvalidArgument("notification_ids must be ids as the service answered them.",
                    ($"notification_ids[{i}]", $"'{request.NotificationIds[i]}' is not a notification id.")));
        }

        await using var connection = await database.OpenAsync(ct);
        if (ids.Count > 0)
        {
            var recipients = await InboxStore.RecipientsAsync(connection, ids, ct);
            if (recipients.Any(r => !Access.MayReadInbox(caller, r)))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "A person reads and marks only the notifications of their own inbox."));
            }
        }

        await InboxStore.MarkReadAsync(connection, caller.Subject, request.All ? null : ids, time.GetUtcNow(), ct);
        return new MarkNotificationsReadResponse { UnreadCount = await InboxStore.UnreadAsync(connection, caller.Subject, ct) };
    }

    public override async Task WatchMyNotifications(WatchMyNotificationsRequest request, IServerStreamWriter<WatchMyNotificationsResponse> responseStream,
        ServerCallContext context)
    {
        var caller = context.Caller();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        // Registered before the first count is read: a change committed after that read wakes the watch.
        using var watch = await inboxHub.WatchAsync(caller.Subject, stop.Token);
        var last = -1;
        do
        {
            int unread;
            await using (var connection = await database.OpenAsync(stop.Token))
            {
                unread = await InboxStore.UnreadAsync(connection, caller.Subject, stop.Token);
            }

            if (unread != last)
            {
                await responseStream.WriteAsync(new WatchMyNotificationsResponse { UnreadCount = unread }, stop.Token);
                last = unread;
            }
        }
        while (await watch.Changes.WaitToReadAsync(stop.Token) && watch.Changes.TryRead(out _));
    }

    public override async Task<GetMyNotificationPreferencesResponse> GetMyNotificationPreferences(GetMyNotificationPreferencesRequest request,
        ServerCallContext context)
    {
        var caller = context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var frequency = await InboxStore.FrequencyAsync(connection, null, caller.Subject, context.CancellationToken);
        return new GetMyNotificationPreferencesResponse { Preferences = new NotificationPreferences { Email = frequency } };
    }

    public override async Task<SetMyNotificationPreferencesResponse> SetMyNotificationPreferences(SetMyNotificationPreferencesRequest request,
        ServerCallContext context)
    {
        var caller = context.Caller();
        var frequency = request.Preferences?.Email ?? EmailFrequency.Unspecified;
        if (frequency is not (EmailFrequency.Immediately or EmailFrequency.DailyDigest or EmailFrequency.Never))
        {
            throw RpcErrors.InvalidArgument("Choose how often mail comes: immediately, a daily digest, or never.",
                ("preferences.email", request.Preferences is null ? "Required." : $"{(int)frequency} is not a choice."));
        }

        await using var connection = await database.OpenAsync(context.CancellationToken);
        await InboxStore.SetFrequencyAsync(connection, caller.Subject, frequency, context.CancellationToken);
        return new SetMyNotificationPreferencesResponse { Preferences = new NotificationPreferences { Email = frequency } };
    }
}
