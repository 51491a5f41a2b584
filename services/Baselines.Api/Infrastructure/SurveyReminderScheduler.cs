using Microsoft.Extensions.Options;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// Queues the reminders of open surveys as their schedules fall due (<see cref="SurveyMail.ReminderDue"/>), checked every
/// <see cref="SurveyMailOptions.ReminderCheckInterval"/>; each under the assessment's row lock, so two instances never remind twice.
/// </summary>
public sealed partial class SurveyReminderScheduler(BaselinesDatabase database, IOptions<BaselinesOptions> options, TimeProvider time,
    ILogger<SurveyReminderScheduler> logger) : BackgroundService
{
    private readonly SurveyMailOptions _options = options.Value.Mail;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RemindDueAsync(stoppingToken);
                await Task.Delay(_options.ReminderCheckInterval, time, stoppingToken);
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

    /// <summary>Queues every reminder due now; the number of surveys reminded.</summary>
    internal async Task<int> RemindDueAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var candidates = new List<string>();
        await using (var command = connection.Command(null, """
            SELECT assessment_id FROM assessments WHERE survey AND status = $1 AND (reminder_every_days > 0 OR reminder_days_before_close > 0)
            """, (int)AssessmentStatus.Open))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                candidates.Add(reader.GetString(0));
            }
        }

        var reminded = 0;
        foreach (var assessmentId in candidates)
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var command = connection.Command(transaction, """
                SELECT title, opens_at, closes_at, reminded_at, reminder_every_days, reminder_days_before_close FROM assessments
                WHERE assessment_id = $1 AND status = $2 FOR UPDATE
                """, assessmentId, (int)AssessmentStatus.Open))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct))
                {
                    continue;
                }

                var (title, opens, closes) = (reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2));
                DateTimeOffset? last = reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3);
                var schedule = new SurveyReminderSchedule { EveryDays = reader.GetInt32(4), DaysBeforeClose = reader.GetInt32(5) };
                await reader.CloseAsync();
                var now = time.GetUtcNow();
                if (!SurveyMail.ReminderDue(schedule, opens, closes, last, now))
                {
                    continue;
                }

                await SurveyMailStore.RemindAsync(connection, transaction, assessmentId, title, closes, _options.PortalUri, now, ct);
            }

            await transaction.CommitAsync(ct);
            reminded++;
        }

        return reminded;
    }

    [LoggerMessage(LogLevel.Warning, "Queuing the surveys' scheduled reminders failed; tried again shortly.")]
    private partial void LogFailed(Exception exception);
}
