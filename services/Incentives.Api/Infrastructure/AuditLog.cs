using Npgsql;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>Who changed what, when, with the before and after as JSON: append-only, in the change's transaction.</summary>
internal static class AuditLog
{
    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string entity, string entityId, string changedBy,
        string? before, string? after, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            "INSERT INTO audit_log (entity, entity_id, changed_by, before, after) VALUES ($1, $2, $3, $4, $5)",
            entity, entityId, changedBy, Sql.Jsonb(before), Sql.Jsonb(after));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
