using System.Text;
using CsvHelper;
using Google.Protobuf;
using Transformation.Directory.V1;

namespace Transformation.Csv.UnitTests;

public sealed class DirectoryCsvTests
{
    private const string Header = "record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles";

    /// <summary>Reads <paramref name="bytes"/> as the upload does: header check, then every row (no call).</summary>
    private static (List<IMessage> Rows, IReadOnlyList<CsvProblem> Problems) Read(byte[] bytes)
    {
        var format = new DirectoryCsv(new ImportOptions { DryRun = true });
        var problems = new CsvProblems();
        using var csv = CsvReader.Create(bytes, CsvUpload.ReaderOptions());
        IReadOnlyList<string> headers = [.. csv.Headers.Select(h => h.Trim())];
        format.CheckHeader(headers, problems);
        var rows = new List<IMessage>();
        if (problems.Count == 0)
        {
            var record = new CsvRecord(csv, headers);
            while (!problems.IsFull && csv.Read())
            {
                if (format.ReadRow(record, problems) is { } row)
                {
                    rows.Add(row);
                }
            }
        }

        return (rows, problems.ToList());
    }

    private static (List<IMessage> Rows, IReadOnlyList<CsvProblem> Problems) Read(string text) => Read(Encoding.UTF8.GetBytes(text));

    private static void ShouldNameOnly(IReadOnlyList<CsvProblem> problems, params (long Line, string Column)[] expected) =>
        problems.Select(p => (p.Line, p.Column)).ShouldBe(expected, string.Join("; ", problems.Select(p => $"{p.Line}/{p.Column}: {p.Problem}")));

    [Fact]
    public void AGoodFileGivesUnitAndEmployeeRowsWithTheirLinesInAnyColumnOrder()
    {
        var (rows, problems) = Read("""
            id,record,name,email,parent_id,kind,org_unit_id,manager_id,roles
            acme,org_unit,Acme,,,organisation,,,
            sales,org_unit,"Sales, North",,acme,division,,,

            e1,employee,Ada,ada@example.com,,,acme,,executive;employee
            """);

        problems.ShouldBeEmpty();
        var units = rows.OfType<ImportOrgUnitRow>().ToList();
        units.Select(u => (u.Line, u.OrgUnitId, u.Name, u.Kind)).ShouldBe([(2, "acme", "Acme", OrgUnitKind.Organisation), (3, "sales", "Sales, North", OrgUnitKind.Division)]);
        var ada = rows.OfType<ImportEmployeeRow>().ShouldHaveSingleItem();
        (ada.Line, ada.Email, ada.OrgUnitId).ShouldBe((5, "ada@example.com", "acme"));
        ada.Roles.ShouldBe([Role.Executive, Role.Employee]);
    }

    [Fact]
    public void EveryColumnIsRequiredSoAFileWithoutRolesIsRefused()
    {
        var (_, problems) = Read("record,id,name,email,parent_id,kind,org_unit_id,manager_id\nemployee,e1,Ada,ada@example.com,,,acme,,\n");

        ShouldNameOnly(problems, (1, "roles"));
    }

    [Fact]
    public void UnknownAndRepeatedColumnsAreRefused()
    {
        var (_, problems) = Read($"{Header},salary,name\nemployee,e1,Ada,ada@example.com,,,acme,,,100,Ada\n");

        ShouldNameOnly(problems, (1, "name"), (1, "salary"));
    }

    [Fact]
    public void ARowWithMoreOrFewerFieldsThanTheHeaderIsRefused()
    {
        var (_, problems) = Read($"{Header}\nemployee,e1,Ada,ada@example.com,,,acme,,employee,extra\nemployee,e2,Bo,bo@example.com\n");

        ShouldNameOnly(problems, (2, ""), (3, "parent_id"));
    }

    [Fact]
    public void Latin1BytesAreRefusedByLineAndColumnNotReplaced()
    {
        var bytes = Encoding.UTF8.GetBytes($"{Header}\nemployee,e1,Ren").Concat(new byte[] { 0xE9 }) // "René" in Latin-1
            .Concat(Encoding.UTF8.GetBytes(",rene@example.com,,,acme,,employee\n")).ToArray();

        var (rows, problems) = Read(bytes);

        rows.ShouldBeEmpty();
        problems.ShouldHaveSingleItem().ShouldBe(new CsvProblem(2, "name", CsvRecord.NotUtf8));
    }

    [Fact]
    public void LineBreaksNulAndOtherControlCharactersInAFieldAreRefusedByLineAndColumn()
    {
        var (rows, problems) = Read($"{Header}\norg_unit,sales,\"Sales\nand more\",,,division,,,\nemployee,e1,Ada\0Lovelace,ada@example.com,,,sales,,employee\n" +
            "employee,e2,\"Bo\tSales\",bo@example.com,,,sales,,employee\n");

        rows.ShouldBeEmpty();
        ShouldNameOnly(problems, (2, "name"), (4, "name"), (5, "name"));
        problems[0].Problem.ShouldContain("line break");
        problems[1].Problem.ShouldContain("NUL");
    }

    [Fact]
    public void UnknownKindsRolesAndRecordsAreNamedByLineAndColumn()
    {
        var (_, problems) = Read($"{Header}\norg_unit,acme,Acme,,,galaxy,,,\nemployee,e1,Ada,ada@example.com,,,acme,,boss\nperson,e2,Bo,bo@example.com,,,acme,,\n");

        ShouldNameOnly(problems, (2, "kind"), (3, "roles"), (4, "record"));
    }

    [Fact]
    public void TheServicesFieldViolationsComeBackAsLinesAndColumns()
    {
        var refused = Refusal.InvalidArgument("The import has 2 error(s).",
            ("line 7.manager_id", "manager 'ghost' does not exist"), ("employee e9.org_unit_id", "org unit 'x' is closed"));

        new DirectoryCsv(new ImportOptions()).ServiceProblems(refused).ShouldBe(
        [
            new CsvProblem(7, "manager_id", "manager 'ghost' does not exist"),
            new CsvProblem(0, "employee e9.org_unit_id", "org unit 'x' is closed"),
        ]);
    }
}
