using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Transformation.Actors;

/// <summary>Durable reminders in <c>actor_reminders</c> (Orleans' reminder table).</summary>
public sealed class ActorReminders(IOptions<ActorOptions> options, ActorDatabase? database = null)
{
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS actor_reminders (
            actor_type text        NOT NULL,
            actor_id   text        NOT NULL,
            name       text        NOT NULL,
            due_at     timestamptz NOT NULL,
            period_ms  bigint      NOT NULL,
            PRIMARY KEY (actor_type, actor_id, name));
        CREATE INDEX IF NOT EXISTS actor_reminders_due ON actor_reminders (due_at);
        """;

    internal async Task RegisterOrUpdateAsync(ActorKey key, string name, TimeSpan dueTime, TimeSpan period, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (period < options.Value.MinimumReminderPeriod)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, $"A reminder's period is at least {options.Value.MinimumReminderPeriod}.");
        }

        await using var command = DataSource.CreateCommand("""
            INSERT INTO actor_reminders (actor_type, actor_id, name, due_at, period_ms) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond', $5)
            ON CONFLICT (actor_type, actor_id, name) DO UPDATE SET due_at = excluded.due_at, period_ms = excluded.period_ms
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = dueTime.TotalMilliseconds });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)period.TotalMilliseconds });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal async Task UnregisterAsync(ActorKey key, string name, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand("DELETE FROM actor_reminders WHERE actor_type = $1 AND actor_id = $2 AND name = $3");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Claims the reminders now due (rows locked by another host are skipped) and moves each to its next
    /// tick after now: ticks missed while no host ran are skipped, not replayed in a burst.
    /// </summary>
    internal async Task<IReadOnlyList<(string Type, string Id, string Name)>> ClaimDueAsync(CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand("""
            WITH due AS (
                SELECT actor_type, actor_id, name FROM actor_reminders WHERE due_at <= now()
                ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
            UPDATE actor_reminders r
            SET due_at = r.due_at + r.period_ms * interval '1 millisecond'
                * (floor(extract(epoch FROM now() - r.due_at) * 1000 / r.period_ms) + 1)
            FROM due
            WHERE r.actor_type = due.actor_type AND r.actor_id = due.actor_id AND r.name = due.name
            RETURNING r.actor_type, r.actor_id, r.name
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var due = new List<(string, string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            due.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return due;
    }

    private NpgsqlDataSource DataSource =>
        database?.DataSource ?? throw new NotSupportedException("Durable reminders need the PostgreSQL actor storage (Actors:Storage = PostgreSql).");
}

/// <summary>Delivers due reminders: each activates its actor and runs as one of its turns.</summary>
internal sealed class ReminderScanner(ActorReminders reminders, ActorHost host, IOptions<ActorOptions> options, ILogger<ReminderScanner> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReminderScanInterval);
        do
        {
            try
            {
                var due = await reminders.ClaimDueAsync(stoppingToken);
                await Task.WhenAll(due.Select(async reminder =>
                {
                    try
                    {
                        await host.DeliverReminderAsync(reminder.Type, reminder.Id, reminder.Name);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogWarning(e, "Reminder {Reminder} of {ActorType}/{Id} failed", reminder.Name, reminder.Type, reminder.Id);
                    }
                }));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                logger.LogWarning(e, "Reading due reminders failed; trying again at the next scan");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default));
    }
}
