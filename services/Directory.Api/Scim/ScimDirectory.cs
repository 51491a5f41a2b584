using System.Text.Json.Nodes;
using Npgsql;
using Transformation.Csv;
using Transformation.Directory.Api.Infrastructure;
using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;

namespace Transformation.Directory.Api.Scim;

/// <summary>A SCIM user as stored: the employee, its SCIM identity and the name of its org unit.</summary>
public sealed record ScimUserRow(Employee Employee, string UserName, string ExternalId, string UnitName);

/// <summary>
/// SCIM users and groups over the directory. Users are employees (the SCIM id is the employee id; userName and
/// externalId are kept beside it; the enterprise department names the org unit by id or name). Groups are the roles
/// (hr, executive, change_manager, employee, operator): membership is the role.
/// </summary>
public sealed class ScimDirectory(NpgsqlDataSource dataSource, DirectoryStore store)
{
    private const string UserColumns = """
        e.id, e.display_name, e.email, e.org_unit_id, e.manager_id, e.roles, e.active, e.version, e.effective_from, e.erased,
        coalesce(s.user_name, e.email), coalesce(s.external_id, ''), coalesce(u.name, ''), count(*) OVER ()
        """;

    private const string UserFrom = """
        FROM employees e LEFT JOIN scim_identities s ON s.employee_id = e.id LEFT JOIN org_units u ON u.id = e.org_unit_id
        WHERE NOT e.erased
        """;

    public async Task<(int Total, IReadOnlyList<ScimUserRow> Users)> ListUsersAsync(ScimFilter? filter, int startIndex, int count,
        CancellationToken cancellationToken)
    {
        var condition = filter?.Attribute.ToLowerInvariant() switch
        {
            null => "",
            "username" => " AND lower(coalesce(s.user_name, e.email)) = lower($3)",
            "externalid" => " AND s.external_id = $3",
            "id" => " AND e.id = $3",
            "emails" or "emails.value" => " AND lower(e.email) = lower($3)",
            "displayname" => " AND e.display_name = $3",
            _ => throw new ScimException(400, "invalidFilter", $"Users cannot be filtered by '{filter.Attribute}'."),
        };
        await using var command = dataSource.CreateCommand($"SELECT {UserColumns} {UserFrom}{condition} ORDER BY e.id OFFSET $1 LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Max(startIndex, 1) - 1 });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Clamp(count, 0, 1000) });
        if (filter is not null)
        {
            command.Parameters.Add(DirectoryStore.Text(filter.Value));
        }

        var users = new List<ScimUserRow>();
        var total = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            users.Add(new ScimUserRow(DirectoryRows.ReadEmployee(reader), reader.GetString(10), reader.GetString(11), reader.GetString(12)));
            total = (int)reader.GetInt64(13);
        }

        if (users.Count == 0)
        {
            // Nothing on this page (or count=0): the total needs its own query.
            await using var counter = dataSource.CreateCommand($"SELECT count(*) {UserFrom}{condition.Replace("$3", "$1", StringComparison.Ordinal)}");
            if (filter is not null)
            {
                counter.Parameters.Add(DirectoryStore.Text(filter.Value));
            }

            total = Convert.ToInt32(await counter.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        return (total, users);
    }

    public async Task<ScimUserRow?> FindUserAsync(string id, CancellationToken cancellationToken) =>
        (await ListUsersAsync(new ScimFilter("id", id), 1, 1, cancellationToken)).Users.SingleOrDefault();

    /// <summary>POST /Users: a new employee (id: the enterprise employeeNumber when free, else a new one).</summary>
    public Task<ScimUserRow> CreateUserAsync(ScimUser user, CancellationToken cancellationToken) =>
        store.WriteAsync(async write =>
        {
            var state = await write.LoadAsync(cancellationToken);
            var id = Names.IsValidId(user.EmployeeNumber) && !state.Employees.ContainsKey(user.EmployeeNumber)
                ? user.EmployeeNumber
                : $"u-{Guid.NewGuid():N}";
            return await SaveUserAsync(write, state, id, user, [], cancellationToken);
        }, cancellationToken);

    /// <summary>PUT or PATCH /Users/{id}: <paramref name="change"/> edits the user as SCIM sees it.</summary>
    public Task<ScimUserRow?> UpdateUserAsync(string id, Action<ScimUser> change, CancellationToken cancellationToken) =>
        store.WriteAsync(async write =>
        {
            var state = await write.LoadAsync(cancellationToken);
            if (!state.Employees.TryGetValue(id, out var employee) || employee.Erased)
            {
                return null;
            }

            var (userName, externalId) = await IdentityAsync(write, id, cancellationToken);
            var user = new ScimUser
            {
                UserName = userName ?? employee.Email,
                ExternalId = externalId ?? "",
                DisplayName = employee.DisplayName,
                Email = employee.Email,
                Active = employee.Active,
                Department = employee.OrgUnitId,
                ManagerId = employee.ManagerId,
                EmployeeNumber = employee.Id,
            };
            change(user);
            return await SaveUserAsync(write, state, id, user, employee.Roles, cancellationToken);
        }, cancellationToken);

    public async Task<IReadOnlyList<(string Id, string Display)>> GroupMembersAsync(Role role, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, display_name FROM employees WHERE $1 = ANY(roles) AND NOT erased ORDER BY id");
        command.Parameters.Add(DirectoryStore.Text(DirectoryNames.Of(role)));
        var members = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            members.Add((reader.GetString(0), reader.GetString(1)));
        }

        return members;
    }

    /// <summary>Changes a role's membership: <paramref name="members"/> gets the current member ids and returns the new ones.</summary>
    public Task<bool> ChangeGroupAsync(Role role, Func<IReadOnlySet<string>, IReadOnlySet<string>> members, CancellationToken cancellationToken) =>
        store.WriteAsync(async write =>
        {
            var state = await write.LoadAsync(cancellationToken);
            var current = state.Employees.Values.Where(e => e.Roles.Contains(role) && !e.Erased).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
            var next = members(current);
            var unknown = next.Where(id => !state.Employees.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                throw new ScimException(400, "invalidValue", $"No user has the id {string.Join(", ", unknown)}.");
            }

            var desired = next.Except(current, StringComparer.Ordinal).Select(id => state.Employees[id]).Select(e => e with { Roles = [.. e.Roles, role] })
                .Concat(current.Except(next, StringComparer.Ordinal).Select(id => state.Employees[id]).Select(e => e with { Roles = [.. e.Roles.Where(r => r != role)] }));
            var plan = DirectorySync.PlanEmployees(state, desired, write.Now);
            ThrowIfInvalid(plan);
            await write.ApplyAsync(plan.Changes, cancellationToken);
            return plan.Changes.Count > 0;
        }, cancellationToken);

    private static async Task<ScimUserRow> SaveUserAsync(DirectoryWrite write, DirectoryState state, string id, ScimUser user,
        IReadOnlyList<Role> roles, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(user.UserName))
        {
            throw new ScimException(400, "invalidValue", "userName is required.");
        }

        var email = user.ResolvedEmail.Trim();
        if (!Names.IsValidEmail(email))
        {
            throw new ScimException(400, "invalidValue", "A work email (emails) or an email-shaped userName is required.");
        }

        await using (var taken = new NpgsqlCommand("""
            SELECT e.id FROM employees e LEFT JOIN scim_identities s ON s.employee_id = e.id
            WHERE lower(coalesce(s.user_name, e.email)) = lower($1) AND e.id <> $2 AND NOT e.erased LIMIT 1
            """, write.Connection, write.Transaction))
        {
            taken.Parameters.Add(DirectoryStore.Text(user.UserName));
            taken.Parameters.Add(DirectoryStore.Text(id));
            if (await taken.ExecuteScalarAsync(cancellationToken) is string holder)
            {
                throw new ScimException(409, "uniqueness", $"userName '{user.UserName}' is already used by user '{holder}'.");
            }
        }

        var unit = ResolveDepartment(state, user.Department);
        var desired = new Employee(id, user.ResolvedDisplayName.Trim(), email, unit?.Id ?? "", user.ManagerId, roles, user.Active);
        var plan = DirectorySync.PlanEmployee(state, desired, write.Now);
        ThrowIfInvalid(plan);
        await write.ApplyAsync(plan.Changes, cancellationToken);
        await write.ExecuteAsync(
        [
            DirectoryWrite.Command("""
                INSERT INTO scim_identities (employee_id, user_name, external_id) VALUES ($1, $2, $3)
                ON CONFLICT (employee_id) DO UPDATE SET user_name = excluded.user_name, external_id = excluded.external_id
                """, id, user.UserName, user.ExternalId),
        ], cancellationToken);
        return new ScimUserRow(plan.Next.Employees[id], user.UserName, user.ExternalId, unit?.Name ?? "");
    }

    /// <summary>The org unit a department names: by id first, else by name (open units only).</summary>
    private static OrgUnit? ResolveDepartment(DirectoryState state, string department)
    {
        department = department.Trim();
        if (department.Length == 0)
        {
            return null;
        }

        if (state.Units.TryGetValue(department, out var byId) && !byId.Closed)
        {
            return byId;
        }

        var byName = state.Units.Values.Where(u => !u.Closed && string.Equals(u.Name, department, StringComparison.OrdinalIgnoreCase)).ToList();
        return byName.Count switch
        {
            1 => byName[0],
            0 => throw new ScimException(400, "invalidValue", $"The department '{department}' matches no open org unit (by id or name)."),
            _ => throw new ScimException(400, "invalidValue",
                $"The department '{department}' names {byName.Count} org units ({string.Join(", ", byName.Select(u => u.Id))}): use the org unit id."),
        };
    }

    private static void ThrowIfInvalid(SyncPlan plan)
    {
        if (plan.Violations.Count > 0)
        {
            throw new ScimException(400, "invalidValue", string.Join("; ", plan.Violations.Select(v => $"{v.Field}: {v.Description}")));
        }
    }

    private static async Task<(string? UserName, string? ExternalId)> IdentityAsync(DirectoryWrite write, string id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT user_name, external_id FROM scim_identities WHERE employee_id = $1", write.Connection, write.Transaction);
        command.Parameters.Add(DirectoryStore.Text(id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetString(1)) : (null, null);
    }

    /// <summary>The role a group id or displayName names, or null.</summary>
    public static Role? RoleOf(string group) => DirectoryNames.TryParseRole(group, out var role) ? role : null;

    public static JsonObject Error(int status, string? scimType, string detail)
    {
        var error = new JsonObject
        {
            ["schemas"] = new JsonArray("urn:ietf:params:scim:api:messages:2.0:Error"),
            ["status"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["detail"] = detail,
        };
        if (scimType is not null)
        {
            error["scimType"] = scimType;
        }

        return error;
    }
}
