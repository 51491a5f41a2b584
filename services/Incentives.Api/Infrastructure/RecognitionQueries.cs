using Npgsql;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>Reads for who is recognised: the population of a period with its points, and the leaderboard.</summary>
public static class RecognitionQueries
{
    /// <summary>
    /// Everyone active in the local Directory copy, plus anyone granted points in the period who is not (a leaver),
    /// with their unit (the Directory's; for someone it does not place, the unit of their latest reward) and the points
    /// granted to them in the period.
    /// </summary>
    public static async Task<List<EmployeePoints>> PopulationAsync(NpgsqlConnection connection, string period, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            WITH granted AS (
                SELECT employee_id, sum(points)::int AS points, (array_agg(org_unit_id ORDER BY occurred_at DESC))[1] AS unit
                FROM outcomes WHERE status = 0 AND period = $1 GROUP BY employee_id),
            people AS (SELECT employee_id, org_unit_id FROM employees WHERE active AND NOT erased)
            SELECT coalesce(p.employee_id, g.employee_id), coalesce(nullif(p.org_unit_id, ''), nullif(e.org_unit_id, ''), g.unit, ''), coalesce(g.points, 0)
            FROM people p
            FULL JOIN granted g ON g.employee_id = p.employee_id
            LEFT JOIN employees e ON p.employee_id IS NULL AND e.employee_id = g.employee_id
            """, period);
        var people = new List<EmployeePoints>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            people.Add(new EmployeePoints(reader.GetString(0), reader.GetString(1), reader.GetInt32(2)));
        }

        return people;
    }

    /// <summary>
    /// The most recognised people of a period by granted public points (then by rewards, then by id), in a unit and
    /// its sub-units when one is given (the unit each reward was granted in); erased people never appear.
    /// </summary>
    public static async Task<List<LeaderboardEntry>> LeaderboardAsync(NpgsqlConnection connection, string period, string orgUnitId, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            WITH RECURSIVE scope(id, depth) AS (
                SELECT $2, 0 WHERE $2 <> ''
                UNION ALL
                SELECT u.org_unit_id, s.depth + 1 FROM org_units u JOIN scope s ON u.parent_id = s.id WHERE s.depth < 64)
            SELECT o.employee_id, coalesce(min(e.display_name), ''), sum(o.points)::int, count(*)::int
            FROM outcomes o LEFT JOIN employees e ON e.employee_id = o.employee_id
            WHERE o.status = 0 AND o.public AND o.period = $1 AND ($2 = '' OR o.org_unit_id IN (SELECT id FROM scope)) AND e.erased IS NOT TRUE
            GROUP BY o.employee_id
            ORDER BY 3 DESC, 4 DESC, 1
            LIMIT $3
            """, period, Sql.Text(orgUnitId), limit);
        var entries = new List<LeaderboardEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LeaderboardEntry
            {
                EmployeeId = reader.GetString(0),
                DisplayName = reader.GetString(1),
                Points = reader.GetInt32(2),
                Rewards = reader.GetInt32(3),
            });
        }

        return entries;
    }
}
