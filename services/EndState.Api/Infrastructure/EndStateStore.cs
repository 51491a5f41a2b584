using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using NpgsqlTypes;
using Transformation.EndState.V1;

namespace Transformation.EndState.Api.Infrastructure;

/// <summary>Versions (one row each, never changed) and the audit trail, as proto JSON documents.</summary>
internal static class EndStateStore
{
    private static readonly JsonFormatter Formatter = JsonFormatter.Default;

    public static string ToJson(IMessage message) => Formatter.Format(message);

    /// <summary>Serialises writers of one scope for the rest of the transaction.</summary>
    public static Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", ct, "endstate:" + scope);

    public static async Task<EndStateVersion?> LatestAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string scope, CancellationToken ct) =>
        (await ReadAsync(connection, transaction, "SELECT document::text FROM versions WHERE scope_org_unit_id = $1 ORDER BY version DESC LIMIT 1", ct, scope))
        .SingleOrDefault();

    public static async Task<EndStateVersion?> EndorsedAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string scope, CancellationToken ct) =>
        (await ReadAsync(connection, transaction, "SELECT document::text FROM versions WHERE scope_org_unit_id = $1 AND status = $2 ORDER BY version DESC LIMIT 1",
            ct, scope, (int)EndStateStatus.Endorsed)).SingleOrDefault();

    public static async Task<EndStateVersion?> VersionAsync(NpgsqlConnection connection, string scope, long version, CancellationToken ct) =>
        (await ReadAsync(connection, null, "SELECT document::text FROM versions WHERE scope_org_unit_id = $1 AND version = $2", ct, scope, version)).SingleOrDefault();

    public static Task<List<EndStateVersion>> HistoryAsync(NpgsqlConnection connection, string scope, CancellationToken ct) =>
        ReadAsync(connection, null, "SELECT document::text FROM versions WHERE scope_org_unit_id = $1 ORDER BY version", ct, scope);

    /// <summary>The latest version of each scope, by scope; only those whose latest version has <paramref name="status"/> unless it is unspecified.</summary>
    public static Task<List<EndStateVersion>> LatestOfEveryScopeAsync(NpgsqlConnection connection, EndStateStatus status, CancellationToken ct) =>
        ReadAsync(connection, null, """
            SELECT document FROM (SELECT DISTINCT ON (scope_org_unit_id) scope_org_unit_id, status, document::text FROM versions
                                  ORDER BY scope_org_unit_id, version DESC) latest
            WHERE $1 = 0 OR status = $1 ORDER BY scope_org_unit_id
            """, ct, (int)status);

    /// <summary>Appends the version and its audit entry (before = the previous latest version).</summary>
    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EndStateVersion? before, EndStateVersion after,
        CancellationToken ct)
    {
        var afterJson = ToJson(after);
        await connection.ExecuteAsync(transaction, """
            INSERT INTO versions (scope_org_unit_id, version, status, document, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)
            """, ct, after.ScopeOrgUnitId, after.Version, (int)after.Status, Jsonb(afterJson), after.ChangedBy, after.ChangedAt.ToDateTimeOffset());
        await connection.ExecuteAsync(transaction, """
            INSERT INTO audit (scope_org_unit_id, version, change, actor, at, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, ct, after.ScopeOrgUnitId, after.Version, (int)after.Change, after.ChangedBy, after.ChangedAt.ToDateTimeOffset(),
            Jsonb(before is null ? null : ToJson(before)), Jsonb(afterJson));
    }

    public static async Task<List<AuditEntry>> AuditAsync(NpgsqlConnection connection, string scope, CancellationToken ct)
    {
        await using var command = connection.Command(null, """
            SELECT sequence, scope_org_unit_id, version, change, actor, at, before::text, after::text FROM audit
            WHERE $1 = '' OR scope_org_unit_id = $1 ORDER BY sequence
            """, scope);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(ct))
        {
            entries.Add(new AuditEntry
            {
                Sequence = reader.GetInt64(0), ScopeOrgUnitId = reader.GetString(1), Version = reader.GetInt64(2), Change = (EndStateChange)reader.GetInt32(3),
                Actor = reader.GetString(4), At = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(5)),
                BeforeJson = reader.IsDBNull(6) ? "" : reader.GetString(6), AfterJson = reader.GetString(7),
            });
        }

        return entries;
    }

    private static NpgsqlParameter Jsonb(string? json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = (object?)json ?? DBNull.Value };

    private static async Task<List<EndStateVersion>> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken ct,
        params object?[] parameters)
    {
        await using var command = connection.Command(transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var versions = new List<EndStateVersion>();
        while (await reader.ReadAsync(ct))
        {
            versions.Add(EndStateVersion.Parser.ParseJson(reader.GetString(0)));
        }

        return versions;
    }
}
