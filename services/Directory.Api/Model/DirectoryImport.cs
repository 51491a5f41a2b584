using Transformation.Csv;
using Transformation.Directory.V1;

namespace Transformation.Directory.Api.Model;

/// <summary>A bad value in an import: the source line and the column (the CSV file's column names).</summary>
public sealed record ImportError(int Line, string Column, string Description)
{
    /// <summary>"line 7.manager_id", or the entity and field for a rule broken by something not in the file.</summary>
    public string Field => Line > 0 ? $"line {Line}.{Column}" : Column;
}

/// <summary>The result of checking an import: either errors (nothing to apply) or the plan.</summary>
public sealed record ImportResult(IReadOnlyList<ImportError> Errors, SyncPlan? Plan);

/// <summary>
/// Turns the rows of an HR import into a full sync. Columns: record, id, name, email, parent_id, kind, org_unit_id,
/// manager_id, roles. Every bad row is reported, not just the first, and any error refuses the whole import.
/// </summary>
public static class DirectoryImport
{
    public static ImportResult Plan(DirectoryState current, IReadOnlyList<ImportOrgUnitRow> unitRows,
        IReadOnlyList<ImportEmployeeRow> employeeRows, DateTimeOffset now)
    {
        var errors = new List<ImportError>();
        var unitLines = new Dictionary<string, int>(StringComparer.Ordinal);
        var units = new List<OrgUnit>();
        foreach (var row in unitRows)
        {
            if (CheckId(row.Line, row.OrgUnitId, unitLines, "org unit", errors))
            {
                units.Add(new OrgUnit(row.OrgUnitId, row.Name.Trim(), row.ParentId.Trim(), row.Kind));
            }

            Require(row.Line, "name", row.Name, errors);
            NoControlCharacter(row.Line, "name", row.Name, errors);
            if (row.Kind == OrgUnitKind.Unspecified || !Enum.IsDefined(row.Kind))
            {
                errors.Add(new ImportError(row.Line, "kind", "kind is required: organisation, division, department, team or location"));
            }

            if (row.ParentId.Length > 0 && !Names.IsValidId(row.ParentId.Trim()))
            {
                errors.Add(new ImportError(row.Line, "parent_id", $"'{row.ParentId}' is not a valid org unit id"));
            }
        }

        var employeeLines = new Dictionary<string, int>(StringComparer.Ordinal);
        var employees = new List<Employee>();
        foreach (var row in employeeRows)
        {
            if (CheckId(row.Line, row.EmployeeId, employeeLines, "employee", errors))
            {
                employees.Add(new Employee(row.EmployeeId, row.DisplayName.Trim(), row.Email.Trim(), row.OrgUnitId.Trim(), row.ManagerId.Trim(),
                    Employee.NormaliseRoles(row.Roles)));
            }

            Require(row.Line, "name", row.DisplayName, errors);
            NoControlCharacter(row.Line, "name", row.DisplayName, errors);
            NoControlCharacter(row.Line, "email", row.Email, errors);
            if (Require(row.Line, "email", row.Email, errors) && !Names.IsValidEmail(row.Email.Trim()))
            {
                errors.Add(new ImportError(row.Line, "email", $"'{row.Email}' is not an email address"));
            }

            Require(row.Line, "org_unit_id", row.OrgUnitId, errors);
            if (row.Roles.Any(r => r == Role.Unspecified || !Enum.IsDefined(r)))
            {
                errors.Add(new ImportError(row.Line, "roles", $"roles are {string.Join(", ", DirectoryNames.RoleNames)}"));
            }
        }

        if (errors.Count > 0)
        {
            return new ImportResult(errors, null);
        }

        var plan = DirectorySync.PlanFullSync(current, unitRows.Count > 0 ? units : null, employees, now);
        foreach (var violation in plan.Violations)
        {
            var lines = violation.Entity == EntityType.OrgUnit ? unitLines : employeeLines;
            errors.Add(lines.TryGetValue(violation.Id, out var line)
                ? new ImportError(line, violation.Field, violation.Description)
                : new ImportError(0, $"{(violation.Entity == EntityType.OrgUnit ? "org unit" : "employee")} {violation.Id}.{violation.Field}", violation.Description));
        }

        return new ImportResult(errors, errors.Count > 0 ? null : plan);
    }

    private static bool CheckId(int line, string id, Dictionary<string, int> lines, string what, List<ImportError> errors)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            errors.Add(new ImportError(line, "id", $"the {what} id is required"));
            return false;
        }

        if (!Names.IsValidId(id))
        {
            errors.Add(new ImportError(line, "id", $"'{id}' is not a valid {what} id (letters, digits, . _ @ -)"));
            return false;
        }

        if (lines.TryGetValue(id, out var first))
        {
            errors.Add(new ImportError(line, "id", $"{what} '{id}' is already on line {first}"));
            return false;
        }

        lines[id] = line;
        return true;
    }

    /// <summary>A line break, tab, NUL or other control character inside a field is refused, named by line and column.</summary>
    private static void NoControlCharacter(int line, string column, string value, List<ImportError> errors)
    {
        if (value.AsSpan().IndexOfAnyInRange('\0', '\u001F') >= 0 || value.Contains('\u007F', StringComparison.Ordinal))
        {
            errors.Add(new ImportError(line, column, $"{column} must not contain line breaks, tabs, NUL or other control characters"));
        }
    }

    private static bool Require(int line, string column, string value, List<ImportError> errors)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        errors.Add(new ImportError(line, column, $"{column} is required"));
        return false;
    }
}
