using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Mail;
using Transformation.Notifications.Api.Model;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>
/// The inboxes (<c>notifications</c>), the copy of the people and units they name, and the mail they send. Every write that
/// changes someone's inbox sends a PostgreSQL NOTIFY on <see cref="Channel"/> with the recipient's id (delivered on commit)
/// for <see cref="InboxHub"/> to tell their watches.
/// </summary>
public static class InboxStore
{
    public const string Channel = "notifications_inbox";

    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS people (employee_id text PRIMARY KEY, display_name text NOT NULL, email text NOT NULL, active boolean NOT NULL,
            version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS org_units (org_unit_id text PRIMARY KEY, name text NOT NULL, version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS notifications (sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, notification_id uuid NOT NULL UNIQUE,
            recipient_id text NOT NULL, event_id text NOT NULL, kind int NOT NULL, subject text NOT NULL, title text NOT NULL, detail text NOT NULL,
            link text NOT NULL, subject_version bigint NOT NULL, created_at timestamptz NOT NULL, read_at timestamptz, done_at timestamptz,
            digest_pending boolean NOT NULL DEFAULT false, UNIQUE (event_id, recipient_id));
        CREATE INDEX IF NOT EXISTS notifications_inbox ON notifications (recipient_id, sequence DESC);
        CREATE INDEX IF NOT EXISTS notifications_waiting ON notifications (subject) WHERE done_at IS NULL;
        CREATE INDEX IF NOT EXISTS notifications_digest ON notifications (recipient_id) WHERE digest_pending;
        CREATE TABLE IF NOT EXISTS notification_completions (subject text NOT NULL, recipient_id text NOT NULL, version bigint NOT NULL,
            PRIMARY KEY (subject, recipient_id));
        CREATE TABLE IF NOT EXISTS notification_preferences (employee_id text PRIMARY KEY, email int NOT NULL);
        CREATE TABLE IF NOT EXISTS digest_runs (day date PRIMARY KEY, ran_at timestamptz NOT NULL);
        """;

    /// <summary>
    /// Writes what one event changes, in its inbox row's transaction: one notification per (event, recipient), created done when
    /// the wait already ended (the ending event may arrive first, on its own queue), mailed now or kept for the digest as the
    /// recipient prefers.
    /// </summary>
    public static async Task ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string eventId, InboxChanges changes,
        DateTimeOffset now, Uri portal, CancellationToken ct)
    {
        foreach (var completion in changes.Completed)
        {
            await connection.ExecuteAsync(transaction, """
                INSERT INTO notification_completions (subject, recipient_id, version) VALUES ($1, $2, $3)
                ON CONFLICT (subject, recipient_id) DO UPDATE SET version = GREATEST(notification_completions.version, excluded.version)
                """, ct, completion.Subject, completion.RecipientId, completion.Version);
            var recipients = new List<string>();
            await using (var command = connection.Command(transaction, """
                UPDATE notifications SET done_at = $3 WHERE subject = $1 AND subject_version < $4 AND done_at IS NULL AND ($2 = '' OR recipient_id = $2)
                RETURNING recipient_id
                """, completion.Subject, completion.RecipientId, now, completion.Version))
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    recipients.Add(reader.GetString(0));
                }
            }

            foreach (var recipient in recipients.Distinct(StringComparer.Ordinal))
            {
                await NotifyAsync(connection, transaction, recipient, ct);
            }
        }

        foreach (var added in changes.Added.Where(a => a.RecipientId.Length > 0))
        {
            var unitName = added.UnitId.Length == 0 ? "" : await connection.ScalarAsync<string>(transaction,
                "SELECT name FROM org_units WHERE org_unit_id = $1", ct, added.UnitId) ?? "";
            var title = Inbox.Title(added.Kind, unitName);
            var (email, name, frequency) = await RecipientAsync(connection, transaction, added.RecipientId, ct);
            var inserted = await connection.ScalarAsync<bool?>(transaction, """
                INSERT INTO notifications (notification_id, recipient_id, event_id, kind, subject, subject_version, title, detail, link, created_at, done_at,
                    digest_pending)
                SELECT gen_random_uuid(), $1, $2, $3, $4, $10, $5, $6, $7, $8, d.ended, d.ended IS NULL AND $9
                FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM notification_completions WHERE subject = $4 AND recipient_id IN ('', $1) AND version > $10)
                    THEN $8 END AS ended) d
                ON CONFLICT (event_id, recipient_id) DO NOTHING
                RETURNING done_at IS NULL
                """, ct, added.RecipientId, eventId, (int)added.Kind, added.Subject, title, added.Detail, added.Link, now,
                frequency == EmailFrequency.DailyDigest && email.Length > 0, added.Version);
            if (inserted is not true)
            {
                continue;
            }

            if (frequency == EmailFrequency.Immediately && email.Length > 0)
            {
                await MailOutbox.EnqueueAsync(connection, transaction, [email], [title], [InboxMail.Body(name, [(title, added.Detail, added.Link)], portal, frequency)], ct);
            }

            await NotifyAsync(connection, transaction, added.RecipientId, ct);
        }
    }

    public static async Task<(List<Notification> Page, int Unread, long? Next)> ListAsync(NpgsqlConnection connection, string recipientId, long? before,
        int pageSize, bool includeDone, CancellationToken ct)
    {
        var page = new List<Notification>();
        long? last = null;
        await using (var command = connection.Command(null, """
            SELECT sequence, notification_id, kind, title, detail, link, created_at, read_at IS NOT NULL, done_at IS NOT NULL FROM notifications
            WHERE recipient_id = $1 AND ($2::bigint IS NULL OR sequence < $2) AND ($3 OR done_at IS NULL) ORDER BY sequence DESC LIMIT $4
            """, recipientId, before.HasValue ? before.Value : DBNull.Value, includeDone, pageSize + 1))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                if (page.Count == pageSize)
                {
                    return (page, await UnreadAsync(connection, recipientId, ct), last);
                }

                last = reader.GetInt64(0);
                page.Add(new Notification
                {
                    NotificationId = reader.GetGuid(1).ToString(),
                    Kind = (NotificationKind)reader.GetInt32(2),
                    Title = reader.GetString(3),
                    Detail = reader.GetString(4),
                    Link = reader.GetString(5),
                    CreatedAt = Timestamp.FromDateTime(reader.GetFieldValue<DateTime>(6)),
                    Read = reader.GetBoolean(7),
                    Done = reader.GetBoolean(8),
                });
            }
        }

        return (page, await UnreadAsync(connection, recipientId, ct), null);
    }

    public static async Task<int> UnreadAsync(NpgsqlConnection connection, string recipientId, CancellationToken ct) =>
        (int)(await connection.ScalarAsync<long>(null,
            "SELECT count(*) FROM notifications WHERE recipient_id = $1 AND read_at IS NULL AND done_at IS NULL", ct, recipientId));

    /// <summary>The recipients of <paramref name="ids"/> (ids that name no notification are left out).</summary>
    public static async Task<HashSet<string>> RecipientsAsync(NpgsqlConnection connection, IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var recipients = new HashSet<string>(StringComparer.Ordinal);
        await using var command = connection.Command(null, "SELECT DISTINCT recipient_id FROM notifications WHERE notification_id = ANY($1)", ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            recipients.Add(reader.GetString(0));
        }

        return recipients;
    }

    /// <summary>Marks the recipient's notifications read: those of <paramref name="ids"/>, or all when it is null.</summary>
    public static async Task MarkReadAsync(NpgsqlConnection connection, string recipientId, IReadOnlyList<Guid>? ids, DateTimeOffset now, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(transaction, """
            UPDATE notifications SET read_at = $3 WHERE recipient_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR notification_id = ANY($2))
            """, ct, recipientId, ids is null ? DBNull.Value : ids.ToArray(), now);
        await NotifyAsync(connection, transaction, recipientId, ct);
        await transaction.CommitAsync(ct);
    }

    public static async Task<EmailFrequency> FrequencyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string employeeId, CancellationToken ct) =>
        (EmailFrequency)(await connection.ScalarAsync<int?>(transaction, "SELECT email FROM notification_preferences WHERE employee_id = $1", ct, employeeId)
            ?? (int)EmailFrequency.Immediately);

    public static Task SetFrequencyAsync(NpgsqlConnection connection, string employeeId, EmailFrequency frequency, CancellationToken ct) =>
        connection.ExecuteAsync(null, """
            INSERT INTO notification_preferences (employee_id, email) VALUES ($1, $2) ON CONFLICT (employee_id) DO UPDATE SET email = excluded.email
            """, ct, employeeId, (int)frequency);

    public static Task UpsertPersonAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Directory.V1.EmployeeSnapshot employee, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO people (employee_id, display_name, email, active, version) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (employee_id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, active = excluded.active,
                version = excluded.version
            WHERE people.version < excluded.version
            """, ct, employee.EmployeeId, employee.DisplayName, employee.Email, employee.Active, employee.Version);

    /// <summary>On erasure: the person's inbox, preference and unsent mail go, and their name and address.</summary>
    public static async Task ForgetPersonAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId, long version, CancellationToken ct)
    {
        await connection.ExecuteAsync(transaction, """
            DELETE FROM mail_outbox WHERE sent_at IS NULL AND recipient IN (SELECT email FROM people WHERE employee_id = $1 AND email <> '')
            """, ct, employeeId);
        await connection.ExecuteAsync(transaction, "DELETE FROM notifications WHERE recipient_id = $1", ct, employeeId);
        await connection.ExecuteAsync(transaction, "DELETE FROM notification_preferences WHERE employee_id = $1", ct, employeeId);
        await connection.ExecuteAsync(transaction, """
            INSERT INTO people (employee_id, display_name, email, active, version) VALUES ($1, '', '', false, $2)
            ON CONFLICT (employee_id) DO UPDATE SET display_name = '', email = '', active = false, version = excluded.version
            WHERE people.version < excluded.version
            """, ct, employeeId, version);
    }

    public static Task UpsertUnitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Directory.V1.OrgUnitSnapshot unit, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO org_units (org_unit_id, name, version) VALUES ($1, $2, $3)
            ON CONFLICT (org_unit_id) DO UPDATE SET name = excluded.name, version = excluded.version WHERE org_units.version < excluded.version
            """, ct, unit.OrgUnitId, unit.Name, unit.Version);

    /// <summary>
    /// Queues one digest mail per person who prefers the digest, of what arrived for them since the last one and still waits or
    /// informs; the number queued. Taking the pending marks and reading them is one statement, so a notification committed meanwhile
    /// waits for the next digest rather than being lost.
    /// </summary>
    public static async Task<int> QueueDigestsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Uri portal, CancellationToken ct)
    {
        var pending = new List<(string Recipient, string Title, string Detail, string Link, bool Done)>();
        await using (var command = connection.Command(transaction, """
            UPDATE notifications SET digest_pending = false WHERE digest_pending RETURNING recipient_id, sequence, title, detail, link, done_at IS NOT NULL
            """))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            var rows = new List<(long Sequence, (string, string, string, string, bool) Row)>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add((reader.GetInt64(1), (reader.GetString(0), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetBoolean(5))));
            }

            pending.AddRange(rows.OrderBy(r => r.Sequence).Select(r => r.Row));
        }

        var (recipients, subjects, bodies) = (new List<string>(), new List<string>(), new List<string>());
        foreach (var group in pending.Where(p => !p.Done).GroupBy(p => p.Recipient, StringComparer.Ordinal))
        {
            var (email, name, frequency) = await RecipientAsync(connection, transaction, group.Key, ct);
            if (frequency != EmailFrequency.DailyDigest || email.Length == 0)
            {
                continue;
            }

            recipients.Add(email);
            subjects.Add(InboxMail.DigestSubject(group.Count()));
            bodies.Add(InboxMail.Body(name, [.. group.Select(p => (p.Title, p.Detail, p.Link))], portal, frequency));
        }

        await MailOutbox.EnqueueAsync(connection, transaction, recipients, subjects, bodies, ct);
        return recipients.Count;
    }

    private static async Task<(string Email, string Name, EmailFrequency Frequency)> RecipientAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        string employeeId, CancellationToken ct)
    {
        var frequency = await FrequencyAsync(connection, transaction, employeeId, ct);
        await using var command = connection.Command(transaction, "SELECT email, display_name FROM people WHERE employee_id = $1 AND active", employeeId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetString(1), frequency) : ("", "", frequency);
    }

    private static Task<int> NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string recipientId, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, $"SELECT pg_notify('{Channel}', $1)", ct, recipientId);
}
