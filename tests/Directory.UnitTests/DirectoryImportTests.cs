using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;

namespace Transformation.Directory.UnitTests;

public sealed class DirectoryImportTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    private static ImportEmployeeRow Row(int line, string id, string unit = "org", string manager = "", string email = "") => new()
    {
        Line = line, EmployeeId = id, DisplayName = $"Person {id}", Email = email.Length > 0 ? email : $"{id}@example.com", OrgUnitId = unit, ManagerId = manager,
    };

    private static readonly ImportOrgUnitRow[] Units = [new() { Line = 2, OrgUnitId = "org", Name = "Org", Kind = OrgUnitKind.Organisation }];

    [Fact]
    public void EveryBadRowIsNamedByLineAndColumnAndNothingIsPlanned()
    {
        ImportOrgUnitRow[] units = [.. Units, new() { Line = 3, OrgUnitId = "bad id!", Name = "", Kind = OrgUnitKind.Unspecified }];
        var rows = new[] { Row(4, "a"), Row(5, "b", email: "nope"), Row(6, "a"), Row(7, "", unit: "") };
        rows[0].Roles.Add(Role.Unspecified);

        var result = DirectoryImport.Plan(DirectoryState.Empty, units, rows, Now);

        result.Plan.ShouldBeNull();
        result.Errors.Select(e => e.Field).ShouldBe(
            ["line 3.id", "line 3.name", "line 3.kind", "line 4.roles", "line 5.email", "line 6.id", "line 7.id", "line 7.email", "line 7.org_unit_id"], ignoreOrder: true);
    }

    [Fact]
    public void NamesAndEmailsWithLineBreaksOrNulAreRefusedByLineAndColumn()
    {
        ImportOrgUnitRow[] units = [new() { Line = 2, OrgUnitId = "org", Name = "Org\nand more", Kind = OrgUnitKind.Organisation }];
        var rows = new[] { Row(3, "a"), Row(4, "b"), Row(5, "c") };
        rows[0].DisplayName = "Ada\0Lovelace";
        rows[1].DisplayName = "Bo\r\nSales";
        rows[2].Email = "c@exam\tple.com";

        var result = DirectoryImport.Plan(DirectoryState.Empty, units, rows, Now);

        result.Plan.ShouldBeNull();
        result.Errors.Select(e => e.Field).Distinct().ShouldBe(["line 2.name", "line 3.name", "line 4.name", "line 5.email"], ignoreOrder: true);
    }

    [Fact]
    public void RulesBrokenOverTheWholeDirectoryAreNamedByTheLineOfTheRowThatBreaksThem()
    {
        var result = DirectoryImport.Plan(DirectoryState.Empty, Units, [Row(4, "a"), Row(5, "b", manager: "ghost"), Row(6, "c", unit: "elsewhere")], Now);

        result.Errors.Select(e => (e.Field, e.Description)).ShouldBe(
        [
            ("line 5.manager_id", "manager 'ghost' does not exist"),
            ("line 6.org_unit_id", "org unit 'elsewhere' does not exist"),
        ], ignoreOrder: true);
    }

    [Fact]
    public void ARuleBrokenByAUnitMissingFromTheFileNamesThatUnit()
    {
        var current = new DirectoryState(
            [new OrgUnit("org", "Org", "", OrgUnitKind.Organisation, Version: 1), new OrgUnit("t", "T", "org", OrgUnitKind.Team, Version: 1)],
            [new Employee("a", "A", "a@example.com", "t", "", [Role.Employee], Version: 1)]);

        // "t" is not in the file so it closes, but "a" stays in it.
        var result = DirectoryImport.Plan(current, Units, [Row(4, "a", unit: "t")], Now);

        result.Errors.Select(e => e.Field).ShouldBe(["org unit t.closed", "line 4.org_unit_id"], ignoreOrder: true);
    }

    [Fact]
    public void AGoodFileIsPlanned()
    {
        var result = DirectoryImport.Plan(DirectoryState.Empty, Units, [Row(4, "a"), Row(5, "b", manager: "a")], Now);

        result.Errors.ShouldBeEmpty();
        result.Plan!.Changes.Count.ShouldBe(3);
    }
}
