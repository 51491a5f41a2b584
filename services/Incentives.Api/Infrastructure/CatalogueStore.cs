using Google.Protobuf;
using Npgsql;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>Behaviours, every version kept: (behaviour_id, version) is the key, so two revisions of one version cannot both land.</summary>
public sealed class CatalogueStore
{
    public static async Task<BehaviourSnapshot?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string behaviourId, int version,
        CancellationToken cancellationToken)
    {
        var sql = version > 0
            ? "SELECT snapshot::text FROM behaviours WHERE behaviour_id = $1 AND version = $2"
            : "SELECT snapshot::text FROM behaviours WHERE behaviour_id = $1 ORDER BY version DESC LIMIT 1";
        await using var command = version > 0 ? connection.Command(transaction, sql, behaviourId, version) : connection.Command(transaction, sql, behaviourId);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? JsonParser.Default.Parse<BehaviourSnapshot>(json) : null;
    }

    public static async Task<IReadOnlyList<BehaviourSnapshot>> ListAsync(NpgsqlConnection connection, Polarity polarity, bool includeRetired,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            SELECT DISTINCT ON (behaviour_id) snapshot::text, polarity, retired FROM behaviours ORDER BY behaviour_id, version DESC
            """);
        var list = new List<BehaviourSnapshot>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if ((polarity == Polarity.Unspecified || reader.GetInt32(1) == (int)polarity) && (includeRetired || !reader.GetBoolean(2)))
            {
                list.Add(JsonParser.Default.Parse<BehaviourSnapshot>(reader.GetString(0)));
            }
        }

        return list;
    }

    public static async Task<IReadOnlyList<BehaviourSnapshot>> VersionsAsync(NpgsqlConnection connection, string behaviourId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, "SELECT snapshot::text FROM behaviours WHERE behaviour_id = $1 ORDER BY version", behaviourId);
        var list = new List<BehaviourSnapshot>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(JsonParser.Default.Parse<BehaviourSnapshot>(reader.GetString(0)));
        }

        return list;
    }

    /// <summary>Inserts a version; false when that version exists already (a concurrent change won).</summary>
    public static async Task<bool> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BehaviourSnapshot snapshot, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO behaviours (behaviour_id, version, polarity, retired, snapshot, changed_at) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT DO NOTHING
            """, snapshot.BehaviourId, snapshot.Version, (int)snapshot.Polarity, snapshot.Retired, Sql.Jsonb(JsonFormatter.Default.Format(snapshot)),
            snapshot.ChangedAt.ToDateTimeOffset());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
