using Transformation.Csv;
using Transformation.Directory.V1;

namespace Transformation.Directory.Api.Model;

/// <summary>One change to apply: the new version of a unit or an employee, and what it was before (null when new).</summary>
public sealed record Change(ChangeKind Kind, string Id, string Description, OrgUnit? Unit = null, Employee? Employee = null,
    Employee? PreviousEmployee = null);

/// <summary>
/// What a write would do: the changes (with their new versions), the state after them, the rules it breaks, and how many
/// of the active employees it deactivates, or keeps with other roles or another manager (the mass-change guard).
/// </summary>
public sealed record SyncPlan(IReadOnlyList<Change> Changes, DirectoryState Next, IReadOnlyList<Violation> Violations,
    int ActiveBefore, int Deactivated, int RolesChanged = 0, int ManagersChanged = 0)
{
    public double DeactivatedShare => Share(Deactivated);

    public double RolesChangedShare => Share(RolesChanged);

    public double ManagersChangedShare => Share(ManagersChanged);

    /// <summary>Whether a full sync would deactivate more than <paramref name="maxShare"/> of the active employees.</summary>
    public bool ExceedsDeactivationLimit(double maxShare) => Deactivated > 0 && DeactivatedShare > maxShare;

    /// <summary>
    /// The mass changes of a full sync beyond <paramref name="maxShare"/> of the active employees (deactivations, role changes,
    /// manager changes), described; empty when there is none. A file missing a column would change everyone at once.
    /// </summary>
    public IReadOnlyList<string> MassChanges(double maxShare)
    {
        var changes = new List<string>();
        if (ExceedsDeactivationLimit(maxShare))
        {
            changes.Add($"deactivate {Deactivated} of {ActiveBefore} active employees ({DeactivatedShare:P0})");
        }

        if (RolesChanged > 0 && RolesChangedShare > maxShare)
        {
            changes.Add($"change the roles of {RolesChanged} of {ActiveBefore} active employees ({RolesChangedShare:P0})");
        }

        if (ManagersChanged > 0 && ManagersChangedShare > maxShare)
        {
            changes.Add($"change the manager of {ManagersChanged} of {ActiveBefore} active employees ({ManagersChangedShare:P0})");
        }

        return changes;
    }

    private double Share(int count) => ActiveBefore == 0 ? 0 : (double)count / ActiveBefore;
}

/// <summary>
/// Diffs a desired directory (an import, one upsert) against the current one. Equal input gives no change, so a
/// repeated sync is idempotent; every change gets the next version and the given effective time.
/// </summary>
public static class DirectorySync
{
    /// <summary>
    /// A full sync: the desired units (null: leave the tree as it is; otherwise open units not listed close) and the
    /// desired active employees (active employees not listed leave).
    /// </summary>
    public static SyncPlan PlanFullSync(DirectoryState current, IReadOnlyCollection<OrgUnit>? desiredUnits,
        IReadOnlyCollection<Employee> desiredEmployees, DateTimeOffset now)
    {
        var unitChanges = new List<Change>();
        if (desiredUnits is not null)
        {
            var listed = desiredUnits.Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
            unitChanges.AddRange(desiredUnits.Select(u => DiffUnit(current, u, now)).OfType<Change>());
            unitChanges.AddRange(current.Units.Values.Where(u => !u.Closed && !listed.Contains(u.Id))
                .OrderBy(u => u.Id, StringComparer.Ordinal)
                .Select(u => DiffUnit(current, u with { Closed = true }, now)).OfType<Change>());
        }

        var listedEmployees = desiredEmployees.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var employeeChanges = desiredEmployees.Select(e => DiffEmployee(current, e with { Active = true }, now)).OfType<Change>().ToList();
        employeeChanges.AddRange(current.Employees.Values.Where(e => e.Active && !listedEmployees.Contains(e.Id))
            .OrderBy(e => e.Id, StringComparer.Ordinal)
            .Select(e => DiffEmployee(current, e with { Active = false }, now)).OfType<Change>());
        return Plan(current, [.. unitChanges, .. employeeChanges]);
    }

    public static SyncPlan PlanUnit(DirectoryState current, OrgUnit desired, DateTimeOffset now) =>
        Plan(current, DiffUnit(current, desired, now) is { } change ? [change] : []);

    public static SyncPlan PlanEmployee(DirectoryState current, Employee desired, DateTimeOffset now) =>
        PlanEmployees(current, [desired], now);

    /// <summary>Several employees at once (distinct ids), as a SCIM group's membership changes them.</summary>
    public static SyncPlan PlanEmployees(DirectoryState current, IEnumerable<Employee> desired, DateTimeOffset now) =>
        Plan(current, desired.Select(e => DiffEmployee(current, e, now)).OfType<Change>().ToList());

    public static Change? DiffUnit(DirectoryState current, OrgUnit desired, DateTimeOffset now)
    {
        current.Units.TryGetValue(desired.Id, out var before);
        if (before is not null && before.SameAs(desired))
        {
            return null;
        }

        var after = desired with { Version = (before?.Version ?? 0) + 1, EffectiveFrom = now };
        if (before is null)
        {
            return new Change(ChangeKind.OrgUnitCreated, after.Id,
                $"new {DirectoryNames.Of(after.Kind)} '{after.Name}'{(after.ParentId.Length > 0 ? $" under {after.ParentId}" : "")}", Unit: after);
        }

        if (after.Closed && !before.Closed)
        {
            return new Change(ChangeKind.OrgUnitClosed, after.Id, $"'{before.Name}' closes", Unit: after);
        }

        var differences = new List<string>();
        Describe(differences, "name", before.Name, after.Name);
        Describe(differences, "parent", before.ParentId, after.ParentId);
        Describe(differences, "kind", DirectoryNames.Of(before.Kind), DirectoryNames.Of(after.Kind));
        if (before.Closed && !after.Closed)
        {
            differences.Add("reopens");
        }

        return new Change(ChangeKind.OrgUnitChanged, after.Id, string.Join("; ", differences), Unit: after);
    }

    /// <summary>
    /// One change per employee write, named by what matters most to consumers: joined, left, moved (org unit or
    /// manager), else updated (name, email, roles). The snapshot carries every field either way.
    /// </summary>
    public static Change? DiffEmployee(DirectoryState current, Employee desired, DateTimeOffset now)
    {
        desired = desired with { Roles = Employee.NormaliseRoles(desired.Roles) };
        current.Employees.TryGetValue(desired.Id, out var before);
        if (before is not null && before.SameAs(desired))
        {
            return null;
        }

        var after = desired with
        {
            Version = (before?.Version ?? 0) + 1,
            EffectiveFrom = now,
            // Personal data given again (a rehire) is no longer erased.
            Erased = before is { Erased: true } && desired.DisplayName.Length == 0 && desired.Email.Length == 0,
        };
        var differences = new List<string>();
        if (before is not null)
        {
            Describe(differences, "org unit", before.OrgUnitId, after.OrgUnitId);
            Describe(differences, "manager", before.ManagerId, after.ManagerId);
            Describe(differences, "name", before.DisplayName, after.DisplayName);
            Describe(differences, "email", before.Email, after.Email);
            Describe(differences, "roles", string.Join(",", before.Roles.Select(DirectoryNames.Of)), string.Join(",", after.Roles.Select(DirectoryNames.Of)));
        }

        var described = string.Join("; ", differences);
        var kind = (before, after) switch
        {
            (null, { Active: true }) => ChangeKind.EmployeeJoined,
            (null, _) => ChangeKind.EmployeeUpdated,
            ({ Active: true }, { Active: false }) => ChangeKind.EmployeeLeft,
            ({ Active: false }, { Active: true }) => ChangeKind.EmployeeJoined,
            _ when after.MovedFrom(before) => ChangeKind.EmployeeMoved,
            _ => ChangeKind.EmployeeUpdated,
        };
        var description = kind switch
        {
            ChangeKind.EmployeeJoined when before is null => $"'{after.DisplayName}' joins {after.OrgUnitId}",
            ChangeKind.EmployeeJoined => $"'{after.DisplayName}' rejoins {after.OrgUnitId}",
            ChangeKind.EmployeeLeft => $"'{before!.DisplayName}' leaves {before.OrgUnitId}",
            _ => described,
        };
        return new Change(kind, after.Id, description, Employee: after, PreviousEmployee: before);
    }

    private static SyncPlan Plan(DirectoryState current, IReadOnlyList<Change> changes)
    {
        var next = current.With(changes.Select(c => c.Unit).OfType<OrgUnit>(), changes.Select(c => c.Employee).OfType<Employee>());
        var violations = next.Validate(
            changes.Where(c => c.Unit is not null).Select(c => c.Id),
            changes.Where(c => c.Employee is not null).Select(c => c.Id));
        var deactivated = changes.Count(c => c.Kind == ChangeKind.EmployeeLeft);
        var staying = changes.Where(c => c is { PreviousEmployee.Active: true, Employee.Active: true }).ToList();
        var rolesChanged = staying.Count(c => !c.PreviousEmployee!.Roles.SequenceEqual(c.Employee!.Roles));
        var managersChanged = staying.Count(c => !string.Equals(c.PreviousEmployee!.ManagerId, c.Employee!.ManagerId, StringComparison.Ordinal));
        return new SyncPlan(changes, next, violations, current.ActiveEmployees, deactivated, rolesChanged, managersChanged);
    }

    private static void Describe(List<string> differences, string what, string before, string after)
    {
        if (!string.Equals(before, after, StringComparison.Ordinal))
        {
            differences.Add($"{what} {(before.Length == 0 ? "(none)" : before)} → {(after.Length == 0 ? "(none)" : after)}");
        }
    }
}
