using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>The reward catalogue: one row per reward, its current version (every version is in the audit trail).</summary>
public static class CatalogueRewardStore
{
    public const string Columns = """
        catalogue_reward_id, version, name, description, points_cost, stock, requires_approval, approval_threshold, eligible_unit_ids, withdrawn,
        changed_by, changed_at
        """;

    /// <summary>A CTE "chain": the ids of the org units from the unit $1 up to the root (the unit itself first).</summary>
    public const string UnitChain = """
        WITH RECURSIVE chain(id, depth) AS (
            SELECT $1::text, 0
            UNION ALL
            SELECT u.parent_id, c.depth + 1 FROM chain c JOIN org_units u ON u.org_unit_id = c.id WHERE u.parent_id <> '' AND c.depth < 64)
        """;

    public static async Task<bool> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CatalogueReward reward, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, $"""
            INSERT INTO catalogue_rewards ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING
            """, Parameters(reward));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Writes a new version over the one it was based on (false when another change got there first).</summary>
    public static async Task<bool> UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CatalogueReward reward, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            UPDATE catalogue_rewards SET version = $2, name = $3, description = $4, points_cost = $5, stock = $6, requires_approval = $7,
                approval_threshold = $8, eligible_unit_ids = $9, withdrawn = $10, changed_by = $11, changed_at = $12
            WHERE catalogue_reward_id = $1 AND version = $2 - 1
            """, Parameters(reward));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public static async Task<CatalogueReward?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string id, bool forUpdate,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            $"SELECT {Columns} FROM catalogue_rewards WHERE catalogue_reward_id = $1{(forUpdate ? " FOR UPDATE" : "")}", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Every reward, by name (withdrawn ones when asked).</summary>
    public static Task<List<CatalogueReward>> ListAsync(NpgsqlConnection connection, bool includeWithdrawn, CancellationToken cancellationToken) =>
        QueryAsync(connection, $"SELECT {Columns} FROM catalogue_rewards WHERE $1 OR NOT withdrawn ORDER BY name, catalogue_reward_id", cancellationToken,
            includeWithdrawn);

    /// <summary>The current rewards the people of <paramref name="orgUnitId"/> may redeem: those for everyone, and those listing the unit or one above it.</summary>
    public static Task<List<CatalogueReward>> ListRedeemableAsync(NpgsqlConnection connection, string orgUnitId, CancellationToken cancellationToken) =>
        QueryAsync(connection, $"""
            {UnitChain}
            SELECT {Columns} FROM catalogue_rewards
            WHERE NOT withdrawn AND (cardinality(eligible_unit_ids) = 0 OR eligible_unit_ids && ARRAY(SELECT id FROM chain))
            ORDER BY name, catalogue_reward_id
            """, cancellationToken, Sql.Text(orgUnitId));

    /// <summary>Whether the people of <paramref name="orgUnitId"/> may redeem a reward eligible to <paramref name="eligibleUnitIds"/> (empty: everyone).</summary>
    public static async Task<bool> MayRedeemAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string orgUnitId,
        IReadOnlyCollection<string> eligibleUnitIds, CancellationToken cancellationToken)
    {
        if (eligibleUnitIds.Count == 0)
        {
            return true;
        }

        if (orgUnitId.Length == 0)
        {
            return false;
        }

        await using var command = connection.Command(transaction, $"{UnitChain} SELECT EXISTS (SELECT FROM chain WHERE id = ANY($2))",
            Sql.Text(orgUnitId), Sql.TextArray(eligibleUnitIds));
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public static CatalogueReward Read(NpgsqlDataReader reader)
    {
        var reward = new CatalogueReward
        {
            CatalogueRewardId = reader.GetString(0),
            Version = reader.GetInt32(1),
            Name = reader.GetString(2),
            Description = reader.GetString(3),
            PointsCost = reader.GetInt32(4),
            RequiresApproval = reader.GetBoolean(6),
            ApprovalThreshold = reader.GetInt32(7),
            Withdrawn = reader.GetBoolean(9),
            ChangedBy = reader.GetString(10),
            ChangedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(11)),
        };
        if (!reader.IsDBNull(5))
        {
            reward.Stock = reader.GetInt32(5);
        }

        reward.EligibleOrgUnitIds.AddRange(reader.GetFieldValue<string[]>(8));
        return reward;
    }

    private static async Task<List<CatalogueReward>> QueryAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = connection.Command(null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rewards = new List<CatalogueReward>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rewards.Add(Read(reader));
        }

        return rewards;
    }

    private static object?[] Parameters(CatalogueReward reward) =>
    [
        reward.CatalogueRewardId, reward.Version, reward.Name, reward.Description, reward.PointsCost,
        reward.HasStock ? reward.Stock : new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer, Value = DBNull.Value },
        reward.RequiresApproval, reward.ApprovalThreshold, Sql.TextArray(reward.EligibleOrgUnitIds), reward.Withdrawn, reward.ChangedBy,
        reward.ChangedAt.ToDateTimeOffset(),
    ];
}
