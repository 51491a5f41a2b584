using Npgsql;

namespace Transformation.Mail;

/// <summary>
/// The <c>mail_outbox</c> table: messages written in the transaction of the change they report (durable before anything is
/// sent), delivered by <see cref="MailOutboxSender"/>.
/// </summary>
public static class MailOutbox
{
    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS mail_outbox (sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, mail_id uuid NOT NULL UNIQUE,
            recipient text NOT NULL, subject text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz);
        CREATE INDEX IF NOT EXISTS mail_outbox_unsent ON mail_outbox (sequence) WHERE sent_at IS NULL;
        """;

    /// <summary>Queues one message per (recipient, subject, body), in <paramref name="transaction"/>.</summary>
    public static Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<string> recipients,
        IReadOnlyList<string> subjects, IReadOnlyList<string> bodies, CancellationToken ct) =>
        recipients.Count == 0 ? Task.CompletedTask : connection.ExecuteAsync(transaction, """
            INSERT INTO mail_outbox (mail_id, recipient, subject, body) SELECT gen_random_uuid(), r, s, b FROM unnest($1, $2, $3) AS m (r, s, b)
            """, ct, Sql.TextArray(recipients), Sql.TextArray(subjects), Sql.TextArray(bodies));
}
