using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using Transformation.Directory.Api.Model;

namespace Transformation.Directory.Api.Infrastructure;

/// <summary>Everything stored about one person.</summary>
public sealed record PersonalData(Employee Employee, IReadOnlyList<(Employee Version, DateTimeOffset ValidFrom, DateTimeOffset? ValidTo)> History,
    string ScimUserName, string ScimExternalId);

/// <summary>Reads, now (current rows) or as of a past moment (the history rows valid then).</summary>
public sealed class DirectoryQueries(NpgsqlDataSource dataSource)
{
    private const string UnitVersionColumns = "id, name, parent_id, kind, closed, version, valid_from";
    private const string EmployeeVersionColumns = "id, display_name, email, org_unit_id, manager_id, roles, active, version, valid_from, false";
    private const string ValidAt = "valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)";

    public async Task<IReadOnlyList<OrgUnit>> UnitsAsync(DateTimeOffset? asOf, CancellationToken cancellationToken)
    {
        await using var command = asOf is null
            ? dataSource.CreateCommand($"SELECT {DirectoryRows.UnitColumns} FROM org_units")
            : dataSource.CreateCommand($"SELECT {UnitVersionColumns} FROM org_unit_versions WHERE {ValidAt}");
        AddTime(command, asOf);
        var units = new List<OrgUnit>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            units.Add(DirectoryRows.ReadUnit(reader));
        }

        return units;
    }

    public async Task<Employee?> EmployeeAsync(string id, DateTimeOffset? asOf, CancellationToken cancellationToken)
    {
        await using var command = asOf is null
            ? dataSource.CreateCommand($"SELECT {DirectoryRows.EmployeeColumns} FROM employees WHERE id = $1")
            : dataSource.CreateCommand($"SELECT {EmployeeVersionColumns} FROM employee_versions WHERE {ValidAt} AND id = $2");
        AddTime(command, asOf);
        command.Parameters.Add(DirectoryStore.Text(id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? DirectoryRows.ReadEmployee(reader) : null;
    }

    public async Task<IReadOnlyList<Employee>> MembersAsync(IReadOnlyCollection<string> unitIds, bool includeInactive, DateTimeOffset? asOf,
        CancellationToken cancellationToken)
    {
        var active = includeInactive ? "" : " AND active";
        await using var command = asOf is null
            ? dataSource.CreateCommand($"SELECT {DirectoryRows.EmployeeColumns} FROM employees WHERE $1::timestamptz IS NULL AND org_unit_id = ANY($2){active} ORDER BY id")
            : dataSource.CreateCommand($"SELECT {EmployeeVersionColumns} FROM employee_versions WHERE {ValidAt} AND org_unit_id = ANY($2){active} ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter<DateTime?> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = asOf?.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = [.. unitIds] });
        var employees = new List<Employee>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            employees.Add(DirectoryRows.ReadEmployee(reader));
        }

        return employees;
    }

    /// <summary>The length from which a query matches anywhere in a name, id, email or unit name (a trigram's).</summary>
    public const int ContainsFrom = 3;

    /// <summary>
    /// Active people whose name, id or email, or whose org unit's name, contains <paramref name="query"/> (case-insensitive); for a query
    /// shorter than <see cref="ContainsFrom"/> characters, whose name or id begins with it. Ordered by name then id,
    /// after the (lower-case name, id) <paramref name="after"/>; at most <paramref name="limit"/>. Each with its lower-case name
    /// as PostgreSQL lowers it (the next page starts after it).
    /// </summary>
    public async Task<IReadOnlyList<(Employee Employee, string SortName)>> SearchAsync(string query, string? role, (string Name, string Id)? after, int limit,
        CancellationToken cancellationToken)
    {
        // A "contains" search for fewer characters than a trigram has would read every row (past 30 s at a million people
        // for a query matching nobody): a short query matches beginnings instead, through the prefix indexes.
        var contains = query.Length >= ContainsFrom;
        await using var command = dataSource.CreateCommand($"""
            SELECT {DirectoryRows.EmployeeColumns}, lower(display_name) FROM employees
            WHERE active AND {(contains ? """
                (lower(display_name || ' ' || id || ' ' || email) LIKE $1
                -- The units matching, read once as an array: the planner can OR the trigram index with employees_org_unit.
                OR org_unit_id = ANY(ARRAY(SELECT u.id FROM org_units u WHERE lower(u.name) LIKE $1)))
                """ : "(lower(display_name) LIKE $1 OR lower(id) LIKE $1)")}
              AND ($2::text IS NULL OR $2 = ANY(roles))
              AND ($3::text IS NULL OR (lower(display_name), id) > ($3, $4::text))
            ORDER BY lower(display_name), id
            LIMIT $5
            """);
        // LIKE's own characters in the query match themselves.
        var escaped = query.ToLowerInvariant().Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
            .Replace("_", @"\_", StringComparison.Ordinal);
        command.Parameters.Add(DirectoryStore.Text(contains ? $"%{escaped}%" : $"{escaped}%"));
        command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = role });
        command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = after?.Name });
        command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = after?.Id });
        command.Parameters.Add(new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer, TypedValue = limit });
        var found = new List<(Employee, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add((DirectoryRows.ReadEmployee(reader), reader.GetString(10)));
        }

        return found;
    }

    public async IAsyncEnumerable<Employee> AllEmployeesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {DirectoryRows.EmployeeColumns} FROM employees ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return DirectoryRows.ReadEmployee(reader);
        }
    }

    public async Task<PersonalData?> PersonalDataAsync(string id, CancellationToken cancellationToken)
    {
        var employee = await EmployeeAsync(id, null, cancellationToken);
        if (employee is null)
        {
            return null;
        }

        var history = new List<(Employee, DateTimeOffset, DateTimeOffset?)>();
        await using (var command = dataSource.CreateCommand(
            $"SELECT {EmployeeVersionColumns}, valid_to FROM employee_versions WHERE id = $1 ORDER BY version"))
        {
            command.Parameters.Add(DirectoryStore.Text(id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var version = DirectoryRows.ReadEmployee(reader);
                history.Add((version, version.EffectiveFrom, reader.IsDBNull(10) ? null : new DateTimeOffset(reader.GetDateTime(10), TimeSpan.Zero)));
            }
        }

        await using var scim = dataSource.CreateCommand("SELECT user_name, external_id FROM scim_identities WHERE employee_id = $1");
        scim.Parameters.Add(DirectoryStore.Text(id));
        await using var scimReader = await scim.ExecuteReaderAsync(cancellationToken);
        var (userName, externalId) = await scimReader.ReadAsync(cancellationToken) ? (scimReader.GetString(0), scimReader.GetString(1)) : ("", "");
        return new PersonalData(employee, history, userName, externalId);
    }

    private static void AddTime(NpgsqlCommand command, DateTimeOffset? asOf)
    {
        if (asOf is { } time)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = time.UtcDateTime });
        }
    }
}
