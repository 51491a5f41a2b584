using Npgsql;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// Budgets per org unit and period. A reward is charged to the nearest unit up the recipient's chain (its own unit
/// first) that has a budget for the period; none means no limit. The charge is one conditional UPDATE
/// (<c>spent + points &lt;= amount</c>) in the reward's transaction: PostgreSQL re-checks the condition after waiting
/// for a concurrent charge's row lock, so concurrent grants never overspend, across any number of instances.
/// </summary>
public static class BudgetStore
{
    public sealed record Charge(bool Reserved, string BudgetUnitId);

    private const string ChargeSql = """
        WITH RECURSIVE chain(id, depth) AS (
            SELECT $1::text, 0
            UNION ALL
            SELECT u.parent_id, c.depth + 1 FROM chain c JOIN org_units u ON u.org_unit_id = c.id
            WHERE u.parent_id <> '' AND c.depth < 64),
        target AS (
            SELECT b.org_unit_id FROM chain JOIN budgets b ON b.org_unit_id = chain.id AND b.period = $2 ORDER BY chain.depth LIMIT 1),
        charged AS (
            UPDATE budgets b SET spent = b.spent + $3 FROM target
            WHERE b.org_unit_id = target.org_unit_id AND b.period = $2 AND b.spent + $3 <= b.amount
            RETURNING b.org_unit_id)
        SELECT (SELECT org_unit_id FROM target), (SELECT org_unit_id FROM charged)
        """;

    public static async Task<Charge> ChargeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string orgUnitId, string period, int points,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, ChargeSql, orgUnitId, period, points);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.IsDBNull(0))
        {
            return new Charge(true, "");
        }

        return reader.IsDBNull(1) ? new Charge(false, reader.GetString(0)) : new Charge(true, reader.GetString(1));
    }

    public static async Task RefundAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string budgetUnitId, string period, int points,
        CancellationToken cancellationToken)
    {
        if (budgetUnitId.Length == 0 || points == 0)
        {
            return;
        }

        await using var command = connection.Command(transaction,
            "UPDATE budgets SET spent = greatest(0, spent - $3) WHERE org_unit_id = $1 AND period = $2", budgetUnitId, period, points);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<Budget?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string orgUnitId, string period,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "SELECT amount, spent FROM budgets WHERE org_unit_id = $1 AND period = $2", orgUnitId, period);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Budget { OrgUnitId = orgUnitId, Period = period, Amount = reader.GetInt32(0), Spent = reader.GetInt32(1) }
            : null;
    }

    public static async Task<Budget> SetAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string orgUnitId, string period, int amount,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO budgets (org_unit_id, period, amount) VALUES ($1, $2, $3)
            ON CONFLICT (org_unit_id, period) DO UPDATE SET amount = excluded.amount RETURNING spent
            """, orgUnitId, period, amount);
        var spent = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        return new Budget { OrgUnitId = orgUnitId, Period = period, Amount = amount, Spent = spent };
    }
}
