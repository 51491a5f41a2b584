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

    /// <summary>What each employee was granted in the period, by source (points and rewards).</summary>
    public static async Task<List<SourceGrants>> GrantsBySourceAsync(NpgsqlConnection connection, string period, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            SELECT employee_id, source, sum(points)::int, count(*)::int FROM outcomes WHERE status = 0 AND period = $1 GROUP BY employee_id, source
            """, period);
        var grants = new List<SourceGrants>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            grants.Add(new SourceGrants(reader.GetString(0), (Initiatives.V1.ObservationSource)reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3)));
        }

        return grants;
    }

    /// <summary>
    /// The most recognised people of a period by granted public points (then by rewards, then by id), in a unit and
    /// its sub-units when one is given (the unit each reward was granted in); erased and opted-out people never appear.
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
              AND NOT EXISTS (SELECT 1 FROM leaderboard_preferences p WHERE p.employee_id = o.employee_id AND p.opted_out)
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

    /// <summary>
    /// Every org unit (in a unit and its sub-units when one is given) with public points granted in it in the period, from
    /// people who have not opted out, with its direct members now (active, not erased) and its name; unranked, unfiltered
    /// (<see cref="Leaderboards.Teams"/> leaves out the small ones).
    /// </summary>
    public static async Task<List<TeamPoints>> TeamsAsync(NpgsqlConnection connection, string period, string orgUnitId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            WITH RECURSIVE scope(id, depth) AS (
                SELECT $2, 0 WHERE $2 <> ''
                UNION ALL
                SELECT u.org_unit_id, s.depth + 1 FROM org_units u JOIN scope s ON u.parent_id = s.id WHERE s.depth < 64),
            granted AS (
                SELECT o.org_unit_id, sum(o.points)::int AS points, count(*)::int AS rewards FROM outcomes o
                WHERE o.status = 0 AND o.public AND o.period = $1 AND o.org_unit_id <> '' AND ($2 = '' OR o.org_unit_id IN (SELECT id FROM scope))
                  AND NOT EXISTS (SELECT 1 FROM leaderboard_preferences p WHERE p.employee_id = o.employee_id AND p.opted_out)
                GROUP BY o.org_unit_id)
            SELECT g.org_unit_id, coalesce(u.name, ''),
                (SELECT count(*) FROM employees e WHERE e.org_unit_id = g.org_unit_id AND e.active AND NOT e.erased)::int, g.points, g.rewards
            FROM granted g LEFT JOIN org_units u ON u.org_unit_id = g.org_unit_id
            """, period, Sql.Text(orgUnitId));
        var teams = new List<TeamPoints>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            teams.Add(new TeamPoints(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4)));
        }

        return teams;
    }

    /// <summary>Whether the employee opted out of leaderboards, and when they last changed it (unset: never).</summary>
    public static async Task<LeaderboardPreference> PreferenceAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string employeeId,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "SELECT opted_out, changed_at FROM leaderboard_preferences WHERE employee_id = $1", employeeId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var preference = new LeaderboardPreference { EmployeeId = employeeId };
        if (await reader.ReadAsync(cancellationToken))
        {
            preference.OptedOut = reader.GetBoolean(0);
            preference.ChangedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(1));
        }

        return preference;
    }

    public static async Task<LeaderboardPreference> SetPreferenceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId, bool optedOut,
        DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO leaderboard_preferences (employee_id, opted_out, changed_at) VALUES ($1, $2, $3)
            ON CONFLICT (employee_id) DO UPDATE SET opted_out = excluded.opted_out, changed_at = excluded.changed_at
            """, employeeId, optedOut, at);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new LeaderboardPreference { EmployeeId = employeeId, OptedOut = optedOut, ChangedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(at) };
    }
}
