using Microsoft.Extensions.Options;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>
/// Queues the daily digests once a day, at <see cref="NotificationMailOptions.DigestTime"/> (UTC): the day's row in
/// <c>digest_runs</c> commits with the digests' mail, so two instances (or a restart) never send a day's digest twice.
/// </summary>
public sealed partial class DigestScheduler(NotificationsDatabase database, IOptions<NotificationsOptions> options, TimeProvider time,
    ILogger<DigestScheduler> logger) : BackgroundService
{
    private readonly NotificationMailOptions _options = options.Value.Mail;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await QueueIfDueAsync(time.GetUtcNow(), stoppingToken);
                await Task.Delay(_options.DigestCheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogFailed(exception);
                await Task.Delay(_options.RetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Queues today's digests if their time has come and no instance queued them yet; the number queued.</summary>
    internal async Task<int> QueueIfDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        if (now.TimeOfDay < _options.DigestTime)
        {
            return 0;
        }

        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await connection.ExecuteAsync(transaction, "INSERT INTO digest_runs (day, ran_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", ct,
                DateOnly.FromDateTime(now.UtcDateTime), now) == 0)
        {
            return 0;
        }

        var queued = await InboxStore.QueueDigestsAsync(connection, transaction, _options.PortalUri, ct);
        await transaction.CommitAsync(ct);
        return queued;
    }

    [LoggerMessage(LogLevel.Warning, "Queueing the daily notification digests failed; trying again.")]
    private partial void LogFailed(Exception exception);
}
