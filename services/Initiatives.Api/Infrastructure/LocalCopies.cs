using Npgsql;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>
/// The copies this service keeps of other services' data: the behaviour catalogue (Incentives) and who works where
/// (Directory), upserted only when the event's version is newer, so redelivered and reordered events change nothing; and the
/// published survey scores (Baselines), kept as first published.
/// </summary>
public static class LocalCopies
{
    public static async Task UpsertBehaviourAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BehaviourSnapshot behaviour, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO behaviours (behaviour_id, version, polarity, retired, name) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (behaviour_id) DO UPDATE SET version = excluded.version, polarity = excluded.polarity, retired = excluded.retired, name = excluded.name
            WHERE behaviours.version < excluded.version
            """, behaviour.BehaviourId, behaviour.Version, (int)behaviour.Polarity, behaviour.Retired, behaviour.Name);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task UpsertEmployeeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EmployeeSnapshot employee, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO employees (employee_id, org_unit_id, active, version) VALUES ($1, $2, $3, $4)
            ON CONFLICT (employee_id) DO UPDATE SET org_unit_id = excluded.org_unit_id, active = excluded.active, version = excluded.version
            WHERE employees.version < excluded.version
            """, employee.EmployeeId, employee.OrgUnitId, employee.Active, employee.Version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task EraseEmployeeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId, long version, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO employees (employee_id, active, erased, version) VALUES ($1, false, true, $2)
            ON CONFLICT (employee_id) DO UPDATE SET erased = true, active = false, version = excluded.version WHERE employees.version < excluded.version
            """, employeeId, version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task UpsertOrgUnitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OrgUnitSnapshot unit, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO org_units (org_unit_id, parent_id, closed, version) VALUES ($1, $2, $3, $4)
            ON CONFLICT (org_unit_id) DO UPDATE SET parent_id = excluded.parent_id, closed = excluded.closed, version = excluded.version
            WHERE org_units.version < excluded.version
            """, unit.OrgUnitId, unit.ParentId, unit.Closed, unit.Version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The rewards of a delivery batch in one statement (a reward already known, granted or revoked, is left as it is).</summary>
    public static async Task InsertRewardsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<RewardGranted> rewards,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO rewards (reward_id, observation_id, employee_id, behaviour_id, points, initiative_id, granted_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
            ON CONFLICT (reward_id) DO NOTHING
            """,
            rewards.Select(r => r.RewardId).ToArray(), rewards.Select(r => r.ObservationId).ToArray(), rewards.Select(r => r.EmployeeId).ToArray(),
            rewards.Select(r => r.BehaviourId).ToArray(), rewards.Select(r => r.Points).ToArray(), rewards.Select(r => r.InitiativeId).ToArray(),
            rewards.Select(r => r.GrantedAt?.ToDateTimeOffset()).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task RevokeRewardAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, RewardRevoked revoked, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO rewards (reward_id, observation_id, employee_id, behaviour_id, points, initiative_id, revoked_at) VALUES ($1, $2, $3, '', $4, '', $5)
            ON CONFLICT (reward_id) DO UPDATE SET revoked_at = excluded.revoked_at
            """, revoked.RewardId, revoked.ObservationId, revoked.EmployeeId, revoked.Points, (revoked.RevokedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A published assessment and its scores per dimension and unit with descendants; a redelivery or a second publication changes nothing.</summary>
    public static async Task InsertPublishedScoresAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ScoresPublished published,
        CancellationToken cancellationToken)
    {
        var assessment = published.Assessment;
        var scores = published.Scores.Where(s => s.IncludeDescendants && s.DimensionId.Length > 0 && s.OrgUnitId.Length > 0).ToList();
        await connection.ExecuteAsync(transaction, """
            INSERT INTO published_assessments (assessment_id, title, measured_at, published_at, minimum_group_size) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (assessment_id) DO NOTHING
            """, cancellationToken, published.AssessmentId, assessment.Title, assessment.ClosesAt.ToDateTimeOffset(), published.PublishedAt.ToDateTimeOffset(),
            published.MinimumGroupSize);
        await connection.ExecuteAsync(transaction, """
            INSERT INTO published_scores (assessment_id, dimension_id, org_unit_id, suppressed, n, mean)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::bigint[], $6::double precision[])
            ON CONFLICT DO NOTHING
            """, cancellationToken, published.AssessmentId, scores.Select(s => s.DimensionId).ToArray(), scores.Select(s => s.OrgUnitId).ToArray(),
            scores.Select(s => s.Suppressed).ToArray(), scores.Select(s => s.N).ToArray(), scores.Select(s => s.Mean).ToArray());
    }

    /// <summary>
    /// What survey-score goals read for a scope: its units that are not below another of them (each stands for itself and its
    /// descendants), and the published assessments with their scores of <paramref name="dimensionIds"/> for those units.
    /// </summary>
    public static async Task<(string[] ScopeUnits, List<PublishedAssessment> Published)> PublishedScoresAsync(NpgsqlConnection connection,
        IEnumerable<string> scope, IEnumerable<string> dimensionIds, CancellationToken cancellationToken)
    {
        string[] units;
        await using (var command = connection.Command(null, """
            WITH RECURSIVE chain(start, unit, depth) AS (
                SELECT s, s, 0 FROM unnest($1::text[]) AS s
                UNION ALL
                SELECT c.start, u.parent_id, c.depth + 1 FROM chain c JOIN org_units u ON u.org_unit_id = c.unit WHERE u.parent_id <> '' AND c.depth < 64)
            SELECT coalesce(array_agg(DISTINCT c.start), '{}') FROM chain c
            WHERE c.depth = 0 AND NOT EXISTS (SELECT 1 FROM chain a WHERE a.start = c.start AND a.depth > 0 AND a.unit = ANY($1))
            """, Sql.TextArray(scope)))
        {
            units = (string[])(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        var published = new Dictionary<string, (PublishedAssessment Assessment, List<PublishedScore> Scores)>(StringComparer.Ordinal);
        await using (var command = connection.Command(null, """
            SELECT a.assessment_id, a.title, a.measured_at, a.published_at, a.minimum_group_size, s.dimension_id, s.org_unit_id, s.suppressed, s.n, s.mean
            FROM published_scores s JOIN published_assessments a ON a.assessment_id = s.assessment_id
            WHERE s.org_unit_id = ANY($1) AND s.dimension_id = ANY($2)
            """, Sql.TextArray(units), Sql.TextArray(dimensionIds)))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (!published.TryGetValue(id, out var entry))
                {
                    var scores = new List<PublishedScore>();
                    published[id] = entry = (new PublishedAssessment(id, reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                        reader.GetFieldValue<DateTimeOffset>(3), reader.GetInt32(4), scores), scores);
                }

                entry.Scores.Add(new PublishedScore(reader.GetString(5), reader.GetString(6), reader.GetBoolean(7), reader.GetInt64(8), reader.GetDouble(9)));
            }
        }

        return (units, published.Values.Select(p => p.Assessment).ToList());
    }

    /// <summary>Resolves the behaviours, employees and initiatives a batch refers to, in one round trip.</summary>
    public static async Task<References> ResolveAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IEnumerable<string> behaviourIds,
        IEnumerable<string> employeeIds, IEnumerable<string> initiativeIds, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(BatchCommand("SELECT behaviour_id, version, polarity, retired FROM behaviours WHERE behaviour_id = ANY($1)", behaviourIds));
        // Each employee with their unit and the units above it, nearest first (the initiative scope check).
        batch.BatchCommands.Add(BatchCommand("""
            WITH RECURSIVE chain(employee_id, org_unit_id, depth) AS (
                SELECT employee_id, org_unit_id, 0 FROM employees WHERE employee_id = ANY($1)
                UNION ALL
                SELECT c.employee_id, u.parent_id, c.depth + 1 FROM chain c JOIN org_units u ON u.org_unit_id = c.org_unit_id
                WHERE u.parent_id <> '' AND c.depth < 64)
            SELECT e.employee_id, e.org_unit_id, e.active, ARRAY(SELECT c.org_unit_id FROM chain c WHERE c.employee_id = e.employee_id ORDER BY c.depth)
            FROM employees e WHERE e.employee_id = ANY($1)
            """, employeeIds));
        batch.BatchCommands.Add(BatchCommand("""
            SELECT actor_id, (state->>'status')::int, ARRAY(SELECT jsonb_array_elements_text(coalesce(state->'scope', '[]')))
            FROM actor_state WHERE actor_type = 'initiative' AND actor_id = ANY($1)
            """, initiativeIds));
        var behaviours = new Dictionary<string, CatalogueEntry>(StringComparer.Ordinal);
        var employees = new Dictionary<string, DirectoryEntry>(StringComparer.Ordinal);
        var initiatives = new Dictionary<string, InitiativeEntry>(StringComparer.Ordinal);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            behaviours[reader.GetString(0)] = new CatalogueEntry(reader.GetString(0), reader.GetInt32(1), (Polarity)reader.GetInt32(2), reader.GetBoolean(3));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            employees[reader.GetString(0)] = new DirectoryEntry(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetFieldValue<string[]>(3));
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            initiatives[reader.GetString(0)] = new InitiativeEntry((InitiativeStatus)reader.GetInt32(1), reader.GetFieldValue<string[]>(2));
        }

        return new References(behaviours, employees, initiatives);
    }

    /// <summary>The org units of <paramref name="scope"/> and all units below them in the copied tree.</summary>
    public static async Task<(string[] Units, int People)> ScopeAsync(NpgsqlConnection connection, IEnumerable<string> scope, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            WITH RECURSIVE tree(org_unit_id) AS (
                SELECT unnest($1::text[])
                UNION
                SELECT u.org_unit_id FROM org_units u JOIN tree t ON u.parent_id = t.org_unit_id)
            SELECT array_agg(org_unit_id), (SELECT count(*)::int FROM employees e WHERE e.active AND e.org_unit_id IN (SELECT org_unit_id FROM tree)) FROM tree
            """, Sql.TextArray(scope));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.IsDBNull(0) ? [] : reader.GetFieldValue<string[]>(0), reader.GetInt32(1));
    }

    public static async Task<HashSet<string>> KnownOrgUnitsAsync(NpgsqlConnection connection, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, "SELECT org_unit_id FROM org_units WHERE org_unit_id = ANY($1) AND NOT closed", Sql.TextArray(ids));
        var known = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            known.Add(reader.GetString(0));
        }

        return known;
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, IEnumerable<string> ids)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(Sql.TextArray(ids.Where(id => id.Length > 0).Distinct(StringComparer.Ordinal)));
        return command;
    }
}
