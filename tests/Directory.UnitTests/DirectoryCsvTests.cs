using Transformation.Cli.Directory;
using Transformation.Directory.V1;

namespace Transformation.Directory.UnitTests;

public sealed class DirectoryCsvTests
{
    [Fact]
    public void RowsCarryTheirFileLineThroughQuotedLineBreaks()
    {
        var file = DirectoryCsv.Read(new StringReader("""
            record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles
            org_unit,acme,Acme,,,organisation,,,
            org_unit,sales,"Sales,
            and more",,acme,division,,,
            employee,e1,Ada,ada@example.com,,,acme,,executive;employee
            """));

        file.Problems.ShouldBeEmpty();
        file.OrgUnits.Select(u => (u.Line, u.OrgUnitId, u.Kind)).ShouldBe([(2, "acme", OrgUnitKind.Organisation), (3, "sales", OrgUnitKind.Division)]);
        var ada = file.Employees.ShouldHaveSingleItem();
        (ada.Line, ada.Email, ada.OrgUnitId).ShouldBe((5, "ada@example.com", "acme"));
        ada.Roles.ShouldBe([Role.Executive, Role.Employee]);
    }

    [Fact]
    public void ProblemsNameTheLineAndTheColumn()
    {
        var file = DirectoryCsv.Read(new StringReader("""
            record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles
            org_unit,acme,Acme,,,galaxy,,,
            employee,e1,Ada,ada@example.com,,,acme,,boss
            person,e2,Bo,bo@example.com,,,acme,,
            """));

        file.Problems.Select(p => (p.Line, p.Column)).ShouldBe([(2, "kind"), (3, "roles"), (4, "record")]);
    }

    [Fact]
    public void AHeaderWithoutTheRequiredColumnsIsRefused() =>
        DirectoryCsv.Read(new StringReader("id,email\ne1,a@b.c\n")).Problems.Select(p => p.Column).ShouldBe(["record", "name"]);
}
