using Transformation.Directory.V1;

namespace Transformation.Csv;

/// <summary>The names of roles and org unit kinds as people write them: in directory files (CSV) and SCIM groups.</summary>
public static class DirectoryNames
{
    private static readonly Dictionary<string, Role> RolesByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hr"] = Role.Hr,
        ["executive"] = Role.Executive,
        ["change_manager"] = Role.ChangeManager,
        ["employee"] = Role.Employee,
        ["operator"] = Role.Operator,
    };

    private static readonly Dictionary<string, OrgUnitKind> KindsByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["organisation"] = OrgUnitKind.Organisation,
        ["organization"] = OrgUnitKind.Organisation,
        ["division"] = OrgUnitKind.Division,
        ["department"] = OrgUnitKind.Department,
        ["team"] = OrgUnitKind.Team,
        ["location"] = OrgUnitKind.Location,
    };

    public static IReadOnlyCollection<string> RoleNames { get; } = RolesByName.Keys;

    public static bool TryParseRole(string name, out Role role) => RolesByName.TryGetValue(name.Trim(), out role);

    public static bool TryParseKind(string name, out OrgUnitKind kind) => KindsByName.TryGetValue(name.Trim(), out kind);

    public static string Of(Role role) => role switch
    {
        Role.Hr => "hr",
        Role.Executive => "executive",
        Role.ChangeManager => "change_manager",
        Role.Employee => "employee",
        Role.Operator => "operator",
        _ => "unspecified",
    };

    public static string Of(OrgUnitKind kind) => kind switch
    {
        OrgUnitKind.Organisation => "organisation",
        OrgUnitKind.Division => "division",
        OrgUnitKind.Department => "department",
        OrgUnitKind.Team => "team",
        OrgUnitKind.Location => "location",
        _ => "unspecified",
    };
}
