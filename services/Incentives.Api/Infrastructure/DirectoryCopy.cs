using Npgsql;
using Transformation.Directory.V1;

namespace Transformation.Incentives.Api.Infrastructure;

public sealed record EmployeeRecord(string EmployeeId, string OrgUnitId, string ManagerId, bool Active);

/// <summary>
/// The part of the Directory this service needs (employee → unit, manager, roles, active; the unit tree for budgets;
/// the display name for leaderboards), upserted only when the event's version is newer, so redelivered and reordered
/// events change nothing. The display name is the only personal data copied (no e-mail); an erasure empties it.
/// </summary>
public static class DirectoryCopy
{
    public static async Task UpsertEmployeeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EmployeeSnapshot employee, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO employees (employee_id, org_unit_id, manager_id, roles, active, version, display_name) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (employee_id) DO UPDATE SET org_unit_id = excluded.org_unit_id, manager_id = excluded.manager_id, roles = excluded.roles,
                active = excluded.active, version = excluded.version, display_name = excluded.display_name
            WHERE employees.version < excluded.version
            """, employee.EmployeeId, employee.OrgUnitId, employee.ManagerId, employee.Roles.Select(r => (int)r).ToArray(), employee.Active, employee.Version,
            employee.DisplayName);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task EraseEmployeeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId, long version, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO employees (employee_id, active, erased, version) VALUES ($1, false, true, $2)
            ON CONFLICT (employee_id) DO UPDATE SET erased = true, active = false, display_name = '', version = excluded.version
            WHERE employees.version < excluded.version
            """, employeeId, version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task UpsertOrgUnitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OrgUnitSnapshot unit, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO org_units (org_unit_id, parent_id, name, closed, version) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (org_unit_id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name, closed = excluded.closed, version = excluded.version
            WHERE org_units.version < excluded.version
            """, unit.OrgUnitId, unit.ParentId, unit.Name, unit.Closed, unit.Version);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<EmployeeRecord?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string employeeId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "SELECT org_unit_id, manager_id, active FROM employees WHERE employee_id = $1", employeeId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new EmployeeRecord(employeeId, reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)) : null;
    }
}
