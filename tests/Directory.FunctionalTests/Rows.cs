using Transformation.Directory.V1;

namespace Transformation.Directory.FunctionalTests;

/// <summary>An HR export: a small organisation of ten people, as rows of an import.</summary>
internal static class Rows
{
    public static ImportOrgUnitRow Unit(int line, string id, string name, string parent, OrgUnitKind kind) =>
        new() { Line = line, OrgUnitId = id, Name = name, ParentId = parent, Kind = kind };

    public static ImportEmployeeRow Person(int line, string id, string name, string unit, string manager, params Role[] roles)
    {
        var row = new ImportEmployeeRow
        {
            Line = line,
            EmployeeId = id,
            DisplayName = name,
            Email = $"{id}@example.com",
            OrgUnitId = unit,
            ManagerId = manager,
        };
        row.Roles.AddRange(roles.Length == 0 ? [Role.Employee] : roles);
        return row;
    }

    public static List<ImportOrgUnitRow> Units() =>
    [
        Unit(2, "acme", "Acme", "", OrgUnitKind.Organisation),
        Unit(3, "sales", "Sales", "acme", OrgUnitKind.Division),
        Unit(4, "sales-north", "Sales North", "sales", OrgUnitKind.Team),
        Unit(5, "eng", "Engineering", "acme", OrgUnitKind.Division),
    ];

    public static List<ImportEmployeeRow> People() =>
    [
        Person(6, "e01", "Ada Chief", "acme", "", Role.Executive, Role.Employee),
        Person(7, "e02", "Bo Sales", "sales", "e01", Role.Employee),
        Person(8, "e03", "Cy North", "sales-north", "e02"),
        Person(9, "e04", "Di North", "sales-north", "e03"),
        Person(10, "e05", "Ed North", "sales-north", "e03"),
        Person(11, "e06", "Flo Eng", "eng", "e01"),
        Person(12, "e07", "Gus Eng", "eng", "e06"),
        Person(13, "e08", "Hal Eng", "eng", "e06"),
        Person(14, "e09", "Ida People", "acme", "e01", Role.Hr, Role.Employee),
        Person(15, "e10", "Jo Eng", "eng", "e06"),
    ];

    public static ImportOptions Apply(string? key = null) => new() { IdempotencyKey = key ?? Guid.NewGuid().ToString() };

    public static ImportOptions DryRun() => new() { DryRun = true };
}
