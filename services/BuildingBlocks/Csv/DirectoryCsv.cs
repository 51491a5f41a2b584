using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Transformation.Directory.V1;

namespace Transformation.Csv;

/// <summary>
/// The HR export of `transform directory import`, for ImportDirectory: one row per org unit (record = org_unit) or employee
/// (record = employee) with exactly the columns record, id, name, email, parent_id, kind, org_unit_id, manager_id, roles
/// (any order; roles separated by ';'). Every column is required: the import is a full sync, so a missing column would
/// clear that field for everyone. Fields are UTF-8 without control characters (line breaks, tabs, NUL).
/// </summary>
public sealed partial class DirectoryCsv(ImportOptions options) : CsvFormat<IMessage, ImportDirectoryRequest>
{
    public static readonly IReadOnlyList<string> Columns = ["record", "id", "name", "email", "parent_id", "kind", "org_unit_id", "manager_id", "roles"];

    private readonly CsvValueCache[] _values = [.. Columns.Select(_ => new CsvValueCache())];
    private int[] _columns = [];

    public override int BatchSize => 500;

    public override ImportDirectoryRequest Opening => new() { Options = options };

    public override void CheckHeader(IReadOnlyList<string> headers, CsvProblems problems)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(problems);
        foreach (var column in Columns.Where(c => !headers.Contains(c, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add(1, column, $"The header has no '{column}' column: every column is required ({string.Join(",", Columns)}).");
        }

        foreach (var group in headers.GroupBy(h => h, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            problems.Add(1, group.Key, $"The column '{group.Key}' appears {group.Count()} times.");
        }

        foreach (var extra in headers.Where(h => !Columns.Contains(h, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add(1, extra, extra.Contains('\uFFFD', StringComparison.Ordinal)
                ? "The header is not valid UTF-8."
                : $"'{extra}' is not a column of a directory file ({string.Join(",", Columns)}).");
        }

        _columns = [.. Columns.Select(c => IndexOf(headers, c))];
    }

    public override IMessage? ReadRow(CsvRecord record, CsvProblems problems)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(problems);
        if (!record.HasEveryColumn(problems))
        {
            return null;
        }

        var before = problems.Count;
        var fields = new string[Columns.Count];
        for (var i = 0; i < fields.Length; i++)
        {
            // Ids, kinds and roles repeat (units, managers): their strings are shared.
            // A name or email exported as "'=…" (CsvExport) reads back as it was.
            fields[i] = i is 1 or 2 or 3 ? CsvExport.Unescape(record.Text(_columns[i], problems)) : record.Text(_columns[i], problems, _values[i]);
            if (ControlCharacter(fields[i]) is { } control)
            {
                problems.Add(record.Line, Columns[i], control);
            }
        }

        if (problems.Count > before)
        {
            return null;
        }

        var line = checked((int)record.Line);
        switch (fields[0].ToLowerInvariant())
        {
            case "org_unit" or "unit":
                if (!DirectoryNames.TryParseKind(fields[5], out var kind))
                {
                    problems.Add(line, "kind", $"'{fields[5]}' is not a kind: organisation, division, department, team or location.");
                    return null;
                }

                return new ImportOrgUnitRow { Line = line, OrgUnitId = fields[1], Name = fields[2], ParentId = fields[4], Kind = kind };
            case "employee":
                var row = new ImportEmployeeRow
                {
                    Line = line, EmployeeId = fields[1], DisplayName = fields[2], Email = fields[3], OrgUnitId = fields[6], ManagerId = fields[7],
                };
                foreach (var name in fields[8].Split([';', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (DirectoryNames.TryParseRole(name, out var role))
                    {
                        row.Roles.Add(role);
                    }
                    else
                    {
                        problems.Add(line, "roles", $"'{name}' is not a role: {string.Join(", ", DirectoryNames.RoleNames)}.");
                    }
                }

                return problems.Count == before ? row : null;
            default:
                problems.Add(line, "record", $"'{fields[0]}' is neither 'org_unit' nor 'employee'.");
                return null;
        }
    }

    public override ImportDirectoryRequest Pack(IReadOnlyList<IMessage> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var request = new ImportDirectoryRequest();
        request.OrgUnits.AddRange(rows.OfType<ImportOrgUnitRow>());
        request.Employees.AddRange(rows.OfType<ImportEmployeeRow>());
        return request;
    }

    /// <summary>The problem of a text with a control character, or null: a line break, tab or NUL inside a field is an error.</summary>
    public static string? ControlCharacter(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var index = text.AsSpan().IndexOfAnyInRange('\0', '\u001F');
        if (index < 0)
        {
            index = text.IndexOf('\u007F', StringComparison.Ordinal);
        }

        return index < 0 ? null : text[index] switch
        {
            '\0' => "A NUL character is not allowed.",
            '\n' or '\r' => "A line break is not allowed in a field.",
            var c => $"The control character U+{(int)c:X4} is not allowed.",
        };
    }

    /// <summary>The service names "line N.column", or an entity and field for a rule broken by something not in the file.</summary>
    protected override CsvProblem ServiceProblem(string field, string description)
    {
        var match = LineField().Match(field);
        return match.Success
            ? new CsvProblem(long.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture), match.Groups["column"].Value, description)
            : new CsvProblem(0, field, description);
    }

    private static int IndexOf(IReadOnlyList<string> headers, string column)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i], column, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    [GeneratedRegex(@"^line (?<line>\d+)\.(?<column>[a-z_]+)$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex LineField();
}
