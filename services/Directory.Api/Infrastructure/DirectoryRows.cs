using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Csv;
using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;

namespace Transformation.Directory.Api.Infrastructure;

/// <summary>Reading rows into the model, and the model into the event contract's snapshots.</summary>
public static class DirectoryRows
{
    public const string UnitColumns = "id, name, parent_id, kind, closed, version, effective_from";
    public const string EmployeeColumns = "id, display_name, email, org_unit_id, manager_id, roles, active, version, effective_from, erased";

    public static OrgUnit ReadUnit(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), (OrgUnitKind)reader.GetInt32(3), reader.GetBoolean(4),
        reader.GetInt64(5), new DateTimeOffset(reader.GetDateTime(6), TimeSpan.Zero));

    public static Employee ReadEmployee(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
        Employee.NormaliseRoles(reader.GetFieldValue<string[]>(5).Select(name => DirectoryNames.TryParseRole(name, out var role) ? role : Role.Unspecified)),
        reader.GetBoolean(6), reader.GetInt64(7), new DateTimeOffset(reader.GetDateTime(8), TimeSpan.Zero), reader.GetBoolean(9));

    public static OrgUnitSnapshot ToSnapshot(this OrgUnit unit) => new()
    {
        OrgUnitId = unit.Id,
        Name = unit.Name,
        ParentId = unit.ParentId,
        Kind = unit.Kind,
        Closed = unit.Closed,
        EffectiveFrom = Timestamp.FromDateTimeOffset(unit.EffectiveFrom),
        Version = unit.Version,
    };

    public static EmployeeSnapshot ToSnapshot(this Employee employee)
    {
        var snapshot = new EmployeeSnapshot
        {
            EmployeeId = employee.Id,
            DisplayName = employee.DisplayName,
            Email = employee.Email,
            OrgUnitId = employee.OrgUnitId,
            ManagerId = employee.ManagerId,
            Active = employee.Active,
            EffectiveFrom = Timestamp.FromDateTimeOffset(employee.EffectiveFrom),
            Version = employee.Version,
        };
        snapshot.Roles.AddRange(employee.Roles);
        return snapshot;
    }
}
