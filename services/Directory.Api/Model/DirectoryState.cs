namespace Transformation.Directory.Api.Model;

/// <summary>
/// The whole directory at one moment: the org unit tree and the employees. Immutable; <see cref="With"/> gives the
/// state after changes, <see cref="Validate"/> the rules that state breaks.
/// </summary>
public sealed class DirectoryState
{
    /// <summary>Deeper than any real organisation; a longer walk means corrupt data.</summary>
    private const int MaxDepth = 1000;

    public DirectoryState(IEnumerable<OrgUnit> units, IEnumerable<Employee> employees)
    {
        Units = units.ToDictionary(u => u.Id, StringComparer.Ordinal);
        Employees = employees.ToDictionary(e => e.Id, StringComparer.Ordinal);
    }

    public static DirectoryState Empty { get; } = new([], []);

    public IReadOnlyDictionary<string, OrgUnit> Units { get; }

    public IReadOnlyDictionary<string, Employee> Employees { get; }

    public int ActiveEmployees => Employees.Values.Count(e => e.Active);

    public DirectoryState With(IEnumerable<OrgUnit> units, IEnumerable<Employee> employees)
    {
        var nextUnits = Units.ToDictionary(StringComparer.Ordinal);
        foreach (var unit in units)
        {
            nextUnits[unit.Id] = unit;
        }

        var nextEmployees = Employees.ToDictionary(StringComparer.Ordinal);
        foreach (var employee in employees)
        {
            nextEmployees[employee.Id] = employee;
        }

        return new DirectoryState(nextUnits.Values, nextEmployees.Values);
    }

    /// <summary>The rules broken by the given units and employees in this state (the others are assumed valid).</summary>
    public IReadOnlyList<Violation> Validate(IEnumerable<string> unitIds, IEnumerable<string> employeeIds)
    {
        var violations = new List<Violation>();
        var unitIdSet = unitIds.ToHashSet(StringComparer.Ordinal);
        var employeeIdSet = employeeIds.ToHashSet(StringComparer.Ordinal);

        Dictionary<string, List<string>>? childrenByParent = null;
        Dictionary<string, List<string>>? activeMembersByUnit = null;
        foreach (var id in unitIdSet)
        {
            var unit = Units[id];
            ValidateUnit(unit, violations);
            if (unit.Closed)
            {
                childrenByParent ??= Units.Values.Where(u => !u.Closed && u.ParentId.Length > 0)
                    .GroupBy(u => u.ParentId, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Select(u => u.Id).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
                activeMembersByUnit ??= Employees.Values.Where(e => e.Active && e.OrgUnitId.Length > 0)
                    .GroupBy(e => e.OrgUnitId, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Select(e => e.Id).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
                if (childrenByParent.TryGetValue(id, out var children))
                {
                    violations.Add(new Violation(EntityType.OrgUnit, id, "closed",
                        $"org unit '{id}' cannot close while units below it are open ({Sample(children)})"));
                }

                if (activeMembersByUnit.TryGetValue(id, out var members))
                {
                    violations.Add(new Violation(EntityType.OrgUnit, id, "closed",
                        $"org unit '{id}' cannot close while it has active members ({Sample(members)})"));
                }
            }
        }

        if (employeeIdSet.Count > 0)
        {
            var emails = Employees.Values.Where(e => e.Active && e.Email.Length > 0)
                .GroupBy(e => e.Email, StringComparer.OrdinalIgnoreCase)
                .Where(g => g.Count() > 1)
                .ToDictionary(g => g.Key, g => g.Select(e => e.Id).Order(StringComparer.Ordinal).ToList(), StringComparer.OrdinalIgnoreCase);
            foreach (var id in employeeIdSet)
            {
                var employee = Employees[id];
                ValidateEmployee(employee, violations);
                if (employee.Active && emails.TryGetValue(employee.Email, out var holders))
                {
                    violations.Add(new Violation(EntityType.Employee, id, "email",
                        $"email '{employee.Email}' is already used by {Sample(holders.Where(h => !string.Equals(h, id, StringComparison.Ordinal)).ToList())}"));
                }
            }
        }

        return violations;
    }

    /// <summary>The ids of the unit and every unit below it (open or closed).</summary>
    public static IReadOnlySet<string> UnitAndDescendants(IEnumerable<OrgUnit> units, string unitId)
    {
        var childrenByParent = units.Where(u => u.ParentId.Length > 0).ToLookup(u => u.ParentId, u => u.Id, StringComparer.Ordinal);
        var result = new HashSet<string>(StringComparer.Ordinal) { unitId };
        var pending = new Queue<string>([unitId]);
        while (pending.TryDequeue(out var current))
        {
            foreach (var child in childrenByParent[current])
            {
                if (result.Add(child))
                {
                    pending.Enqueue(child);
                }
            }
        }

        return result;
    }

    /// <summary>Units ordered so that every parent comes before its children (siblings by name, then id).</summary>
    public static IReadOnlyList<OrgUnit> ParentsFirst(IEnumerable<OrgUnit> units)
    {
        var all = units.ToList();
        var ids = all.Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
        var childrenByParent = all.ToLookup(u => ids.Contains(u.ParentId) ? u.ParentId : "", StringComparer.Ordinal);
        var ordered = new List<OrgUnit>(all.Count);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string parent)
        {
            foreach (var child in childrenByParent[parent].OrderBy(u => u.Name, StringComparer.Ordinal).ThenBy(u => u.Id, StringComparer.Ordinal))
            {
                if (visited.Add(child.Id))
                {
                    ordered.Add(child);
                    Visit(child.Id);
                }
            }
        }

        Visit("");
        // Units on a cycle (never stored, but never lost either) come last.
        ordered.AddRange(all.Where(u => !visited.Contains(u.Id)));
        return ordered;
    }

    private static string Sample(List<string> ids) =>
        ids.Count <= 3 ? string.Join(", ", ids) : $"{string.Join(", ", ids.Take(3))} and {ids.Count - 3} more";

    private void ValidateUnit(OrgUnit unit, List<Violation> violations)
    {
        if (unit.ParentId.Length == 0)
        {
            return;
        }

        if (string.Equals(unit.ParentId, unit.Id, StringComparison.Ordinal))
        {
            violations.Add(new Violation(EntityType.OrgUnit, unit.Id, "parent_id", $"org unit '{unit.Id}' cannot be its own parent"));
            return;
        }

        if (!Units.TryGetValue(unit.ParentId, out var parent))
        {
            violations.Add(new Violation(EntityType.OrgUnit, unit.Id, "parent_id", $"parent org unit '{unit.ParentId}' does not exist"));
            return;
        }

        if (!unit.Closed && parent.Closed)
        {
            violations.Add(new Violation(EntityType.OrgUnit, unit.Id, "parent_id", $"parent org unit '{unit.ParentId}' is closed"));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal) { unit.Id };
        var current = parent;
        for (var depth = 0; depth < MaxDepth; depth++)
        {
            if (!seen.Add(current.Id))
            {
                violations.Add(new Violation(EntityType.OrgUnit, unit.Id, "parent_id",
                    $"parent org unit '{unit.ParentId}' would make a cycle ({string.Join(" → ", seen)} → {current.Id})"));
                return;
            }

            if (current.ParentId.Length == 0 || !Units.TryGetValue(current.ParentId, out var next))
            {
                return;
            }

            current = next;
        }
    }

    private void ValidateEmployee(Employee employee, List<Violation> violations)
    {
        if (employee.Active && employee.OrgUnitId.Length > 0)
        {
            if (!Units.TryGetValue(employee.OrgUnitId, out var unit))
            {
                violations.Add(new Violation(EntityType.Employee, employee.Id, "org_unit_id", $"org unit '{employee.OrgUnitId}' does not exist"));
            }
            else if (unit.Closed)
            {
                violations.Add(new Violation(EntityType.Employee, employee.Id, "org_unit_id", $"org unit '{employee.OrgUnitId}' is closed"));
            }
        }

        if (employee.ManagerId.Length == 0)
        {
            return;
        }

        if (string.Equals(employee.ManagerId, employee.Id, StringComparison.Ordinal))
        {
            violations.Add(new Violation(EntityType.Employee, employee.Id, "manager_id", $"employee '{employee.Id}' cannot manage themselves"));
            return;
        }

        if (!Employees.TryGetValue(employee.ManagerId, out var manager))
        {
            violations.Add(new Violation(EntityType.Employee, employee.Id, "manager_id", $"manager '{employee.ManagerId}' does not exist"));
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal) { employee.Id };
        var current = manager;
        for (var depth = 0; depth < MaxDepth; depth++)
        {
            if (!seen.Add(current.Id))
            {
                violations.Add(new Violation(EntityType.Employee, employee.Id, "manager_id",
                    $"manager '{employee.ManagerId}' would make a cycle ({string.Join(" → ", seen)} → {current.Id})"));
                return;
            }

            if (current.ManagerId.Length == 0 || !Employees.TryGetValue(current.ManagerId, out var next))
            {
                return;
            }

            current = next;
        }
    }
}
