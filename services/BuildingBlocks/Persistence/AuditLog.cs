using System.Globalization;
using Npgsql;
using Transformation.GrpcHosting;

namespace Transformation.Persistence;

/// <summary>One audit entry: who changed which entity when, with the entity before and after as JSON ("" before a creation).</summary>
public sealed record AuditRecord(long Sequence, string Entity, string EntityId, string ChangedBy, DateTimeOffset ChangedAt, string Before, string After);

/// <summary>
/// The audit trail of a service: who changed what, when, with the before and after as JSON documents. Entries are appended
/// in the change's own transaction; the database refuses UPDATE, DELETE and TRUNCATE on the table (append-only).
/// Include <see cref="Ddl"/> in the service's schema.
/// </summary>
public static class AuditLog
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 500;

    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS audit_log (
            sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            entity      text        NOT NULL,
            entity_id   text        NOT NULL,
            changed_by  text        NOT NULL,
            changed_at  timestamptz NOT NULL DEFAULT now(),
            before      jsonb,
            after       jsonb);
        CREATE INDEX IF NOT EXISTS audit_log_entity ON audit_log (entity, entity_id, sequence);
        CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
        CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
        CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

        """;

    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string entity, string entityId, string changedBy,
        string? before, string? after, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            "INSERT INTO audit_log (entity, entity_id, changed_by, before, after) VALUES ($1, $2, $3, $4, $5)",
            entity, entityId, changedBy, Sql.Jsonb(before), Sql.Jsonb(after));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Entries in the order written, filtered by entity and entity id (empty: any), a page at a time: <paramref name="pageToken"/>
    /// is empty or a <c>NextPageToken</c> returned earlier (empty when there is no further page). A bad token is INVALID_ARGUMENT.
    /// </summary>
    public static async Task<(List<AuditRecord> Entries, string NextPageToken)> ListAsync(NpgsqlConnection connection, string entity, string entityId,
        int pageSize, string pageToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pageToken);
        long after = 0;
        if (pageToken.Length > 0 && (!long.TryParse(pageToken, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            throw RpcException.InvalidArgument("Bad page token.", ("page_token", "Use a next_page_token returned earlier."));
        }

        if (pageSize is < 0 or > MaxPageSize)
        {
            throw RpcException.InvalidArgument("Bad page size.", ("limit", $"0 (the default, {DefaultPageSize}) to {MaxPageSize}."));
        }

        var limit = pageSize == 0 ? DefaultPageSize : pageSize;
        await using var command = connection.Command(null, """
            SELECT sequence, entity, entity_id, changed_by, changed_at, coalesce(before::text, ''), coalesce(after::text, '') FROM audit_log
            WHERE sequence > $1 AND ($2 = '' OR entity = $2) AND ($3 = '' OR entity_id = $3) ORDER BY sequence LIMIT $4
            """, after, Sql.Text(entity), Sql.Text(entityId), limit);
        var entries = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetString(6)));
        }

        var next = entries.Count == limit ? entries[^1].Sequence.ToString(CultureInfo.InvariantCulture) : "";
        return (entries, next);
    }
}
