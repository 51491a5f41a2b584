using CsvHelper;
using Transformation.Directory.V1;

namespace Transformation.Cli.Directory;

/// <summary>A problem in the file: its line and column.</summary>
public sealed record CsvProblem(int Line, string Column, string Problem);

/// <summary>The rows of a directory file, or what is wrong with it.</summary>
public sealed record DirectoryFile(IReadOnlyList<ImportOrgUnitRow> OrgUnits, IReadOnlyList<ImportEmployeeRow> Employees, IReadOnlyList<CsvProblem> Problems);

/// <summary>
/// Reads an HR export: one row per org unit (record = org_unit) or employee (record = employee), with the columns
/// record, id, name, email, parent_id, kind, org_unit_id, manager_id, roles (roles separated by ';').
/// </summary>
public static class DirectoryCsv
{
    public static readonly string[] Columns = ["record", "id", "name", "email", "parent_id", "kind", "org_unit_id", "manager_id", "roles"];

    private static readonly string[] RequiredColumns = ["record", "id", "name"];

    private static readonly Dictionary<string, OrgUnitKind> Kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["organisation"] = OrgUnitKind.Organisation,
        ["organization"] = OrgUnitKind.Organisation,
        ["division"] = OrgUnitKind.Division,
        ["department"] = OrgUnitKind.Department,
        ["team"] = OrgUnitKind.Team,
        ["location"] = OrgUnitKind.Location,
    };

    private static readonly Dictionary<string, Role> RoleNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hr"] = Role.Hr,
        ["executive"] = Role.Executive,
        ["change_manager"] = Role.ChangeManager,
        ["employee"] = Role.Employee,
        ["operator"] = Role.Operator,
    };

    /// <summary>Reads the file; <paramref name="progress"/> gets the bytes read so far.</summary>
    public static DirectoryFile Read(TextReader text, Action<long>? progress = null)
    {
        var units = new List<ImportOrgUnitRow>();
        var employees = new List<ImportEmployeeRow>();
        var problems = new List<CsvProblem>();
        var options = new CsvReaderOptions
        {
            TrackLineNumbers = true,
            TrimWhitespace = true,
            SkipEmptyLines = true,
            MalformedData = CsvMalformedDataHandling.Throw,
        };
        using var csv = CsvReader.Create(text, options, leaveOpen: true);
        IReadOnlyList<string> headers = [];
        try
        {
            headers = [.. csv.Headers.Select(h => h.Trim().ToLowerInvariant())];
            var missing = RequiredColumns.Where(c => !headers.Contains(c, StringComparer.Ordinal)).ToList();
            if (missing.Count > 0)
            {
                return new DirectoryFile(units, employees, [.. missing.Select(c => new CsvProblem(1, c, $"the header has no '{c}' column"))]);
            }

            while (csv.Read())
            {
                var line = (int)csv.LineNumber;
                progress?.Invoke(csv.ByteOffset);
                string Field(string column) => csv.TryGetFieldIndex(column, out var index) && index < csv.FieldCount ? csv.GetString(index).Trim() : "";
                var record = Field("record");
                switch (record.ToLowerInvariant())
                {
                    case "org_unit" or "unit":
                        var kindText = Field("kind");
                        if (!Kinds.TryGetValue(kindText, out var kind))
                        {
                            problems.Add(new CsvProblem(line, "kind", $"'{kindText}' is not a kind: organisation, division, department, team or location"));
                        }

                        units.Add(new ImportOrgUnitRow { Line = line, OrgUnitId = Field("id"), Name = Field("name"), ParentId = Field("parent_id"), Kind = kind });
                        break;
                    case "employee":
                        var row = new ImportEmployeeRow
                        {
                            Line = line,
                            EmployeeId = Field("id"),
                            DisplayName = Field("name"),
                            Email = Field("email"),
                            OrgUnitId = Field("org_unit_id"),
                            ManagerId = Field("manager_id"),
                        };
                        foreach (var name in Field("roles").Split([';', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            if (RoleNames.TryGetValue(name, out var role))
                            {
                                row.Roles.Add(role);
                            }
                            else
                            {
                                problems.Add(new CsvProblem(line, "roles", $"'{name}' is not a role: {string.Join(", ", RoleNames.Keys)}"));
                            }
                        }

                        employees.Add(row);
                        break;
                    default:
                        problems.Add(new CsvProblem(line, "record", $"'{record}' is neither 'org_unit' nor 'employee'"));
                        break;
                }
            }
        }
        catch (CsvFormatException e)
        {
            var column = e.FieldIndex is { } index && index >= 0 && index < headers.Count ? headers[(int)index] : "";
            problems.Add(new CsvProblem((int)e.LineNumber, column, $"the file is not valid CSV: {e.Message.Split('\n')[0]}"));
        }

        return new DirectoryFile(units, employees, problems);
    }
}
