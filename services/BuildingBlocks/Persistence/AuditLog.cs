using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Audit.V1;
using Transformation.GrpcHosting;

namespace Transformation.Persistence;

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
    /// The ListAuditEntries RPC of every service (transformation.audit.v1): entries in the order written, filtered by
    /// entity and entity id (empty: any), a page at a time. A bad page token or size is INVALID_ARGUMENT.
    /// </summary>
    public static async Task<ListAuditEntriesResponse> ListAsync(NpgsqlConnection connection, ListAuditEntriesRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        long after = 0;
        if (request.PageToken.Length > 0 && (!long.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            throw RpcErrors.InvalidArgument("Bad page token.", ("page_token", "Use a next_page_token returned earlier."));
        }

        if (request.Limit is < 0 or > MaxPageSize)
        {
            throw RpcErrors.InvalidArgument("Bad page size.", ("limit", $"0 (the default, {DefaultPageSize}) to {MaxPageSize}."));
        }

        var limit = request.Limit == 0 ? DefaultPageSize : request.Limit;
        await using var command = connection.Command(null, """
            SELECT sequence, entity, entity_id, changed_by, changed_at, coalesce(before::text, ''), coalesce(after::text, '') FROM audit_log
            WHERE sequence > $1 AND ($2 = '' OR entity = $2) AND ($3 = '' OR entity_id = $3) ORDER BY sequence LIMIT $4
            """, after, Sql.Text(request.Entity), Sql.Text(request.EntityId), limit);
        var response = new ListAuditEntriesResponse();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            response.Entries.Add(new AuditEntry
            {
                Sequence = reader.GetInt64(0),
                Entity = reader.GetString(1),
                EntityId = reader.GetString(2),
                ChangedBy = reader.GetString(3),
                ChangedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(4)),
                Before = reader.GetString(5),
                After = reader.GetString(6),
            });
        }

        response.NextPageToken = response.Entries.Count == limit ? response.Entries[^1].Sequence.ToString(CultureInfo.InvariantCulture) : "";
        return response;
    }
}
