namespace Transformation.Baselines.Api.Model;

/// <summary>A reportable group: a unit (alone or with its descendants) and attribute filters (null = any value).</summary>
public readonly record struct GroupKey(string Unit, bool Descendants, string? Tenure, string? Role, string? Location);

/// <summary>The finest stored cell: respondents of one unit (alone) with one combination of attribute values.</summary>
public sealed record Cell(string Unit, string Tenure, string Role, string Location, Aggregate Aggregate);

/// <summary>The org tree as far as scoring needs it.</summary>
public sealed class OrgTree
{
    private readonly Dictionary<string, string> _parents;
    private readonly Dictionary<string, List<string>> _children = new(StringComparer.Ordinal);

    public OrgTree(IReadOnlyDictionary<string, string> parents)
    {
        _parents = new Dictionary<string, string>(parents, StringComparer.Ordinal);
        foreach (var (unit, parent) in _parents)
        {
            if (parent.Length > 0)
            {
                if (!_children.TryGetValue(parent, out var list))
                {
                    _children[parent] = list = [];
                }

                list.Add(unit);
            }
        }
    }

    public bool Contains(string unit) => _parents.ContainsKey(unit);

    public IReadOnlyList<string> Children(string unit) => _children.TryGetValue(unit, out var list) ? list : [];

    /// <summary>The unit and its ancestors, nearest first (cycles are cut).</summary>
    public IEnumerable<string> SelfAndAncestors(string unit)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var current = unit; current.Length > 0 && seen.Add(current); current = _parents.GetValueOrDefault(current, ""))
        {
            yield return current;
        }
    }

    public IEnumerable<string> SelfAndDescendants(string unit)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([unit]);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            if (!seen.Add(current))
            {
                continue;
            }

            yield return current;
            foreach (var child in Children(current))
            {
                stack.Push(child);
            }
        }
    }
}

/// <summary>
/// Which groups of one assessment × dimension may be reported. Every group the API can be asked for (each unit alone
/// or with descendants × every combination of attribute filters) is summed from the cells, and suppressed when:
/// (1) it has 1 to k-1 respondents (primary); (2) it is part of a partition of a reported group (a unit with
/// descendants = the unit alone + each child with descendants; a group = its groups by each value of one attribute)
/// in which exactly one member (the whole or a part) would be hidden (it could be solved for by subtraction or
/// addition), or whose hidden parts of a reported whole hold 1 to k-1 respondents together: the smallest further parts
/// are then suppressed (the whole when no part is left); (3) it has the same respondents as a suppressed group.
/// Applied until nothing changes. Groups of a closed assessment only: no figure changes between queries.
/// </summary>
public sealed class SuppressionTable
{
    private readonly Dictionary<GroupKey, Aggregate> _groups;
    private readonly HashSet<GroupKey> _suppressed;

    private SuppressionTable(Dictionary<GroupKey, Aggregate> groups, HashSet<GroupKey> suppressed, int minimum)
    {
        (_groups, _suppressed, MinimumGroupSize) = (groups, suppressed, minimum);
    }

    public int MinimumGroupSize { get; }

    public int GroupCount => _groups.Count;

    /// <summary>The group's figures, or null when it is suppressed (or empty).</summary>
    public Aggregate? Reportable(GroupKey key)
    {
        key = Normalise(key);
        return _groups.TryGetValue(key, out var aggregate) && aggregate.N > 0 && !_suppressed.Contains(key) ? aggregate : null;
    }

    public bool IsSuppressed(GroupKey key) => Reportable(key) is null;

    /// <summary>The group's size regardless of suppression (for tests and internal checks only; never returned).</summary>
    internal long SizeOf(GroupKey key) => _groups.TryGetValue(Normalise(key), out var aggregate) ? aggregate.N : 0;

    private static GroupKey Normalise(GroupKey key) => key with
    {
        Tenure = string.IsNullOrEmpty(key.Tenure) ? null : key.Tenure,
        Role = string.IsNullOrEmpty(key.Role) ? null : key.Role,
        Location = string.IsNullOrEmpty(key.Location) ? null : key.Location,
    };

    public static SuppressionTable Build(IEnumerable<Cell> cells, OrgTree tree, int minimumGroupSize)
    {
        var groups = new Dictionary<GroupKey, Aggregate>();
        var tenures = new HashSet<string>(StringComparer.Ordinal);
        var roles = new HashSet<string>(StringComparer.Ordinal);
        var locations = new HashSet<string>(StringComparer.Ordinal);
        var units = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in cells)
        {
            tenures.Add(cell.Tenure);
            roles.Add(cell.Role);
            locations.Add(cell.Location);
            for (var mask = 0; mask < 8; mask++)
            {
                var tenure = (mask & 1) != 0 ? cell.Tenure : null;
                var role = (mask & 2) != 0 ? cell.Role : null;
                var location = (mask & 4) != 0 ? cell.Location : null;
                AddTo(groups, new GroupKey(cell.Unit, false, tenure, role, location), cell.Aggregate);
                foreach (var unit in tree.SelfAndAncestors(cell.Unit))
                {
                    units.Add(unit);
                    AddTo(groups, new GroupKey(unit, true, tenure, role, location), cell.Aggregate);
                }
            }
        }

        var partitions = Partitions(groups, tree, units, tenures, roles, locations);
        var suppressed = new HashSet<GroupKey>(groups.Where(g => g.Value.N > 0 && g.Value.N < minimumGroupSize).Select(g => g.Key));
        long Size(GroupKey key) => groups.TryGetValue(key, out var aggregate) ? aggregate.N : 0;

        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var (whole, parts) in partitions)
            {
                var wholeSize = Size(whole);
                var wholeSuppressed = suppressed.Contains(whole);
                foreach (var part in parts)
                {
                    // (4) the same respondents: one suppressed means both.
                    if (Size(part) == wholeSize && wholeSize > 0 && suppressed.Contains(part) != wholeSuppressed)
                    {
                        suppressed.Add(part);
                        suppressed.Add(whole);
                        wholeSuppressed = true;
                        changed = true;
                    }
                }

                while (true)
                {
                    var hidden = parts.Where(p => Size(p) > 0 && suppressed.Contains(p)).ToList();
                    var mass = hidden.Sum(Size);
                    var open = parts.Where(p => !suppressed.Contains(p) && Size(p) > 0).OrderBy(Size).ThenBy(p => p.ToString(), StringComparer.Ordinal).ToList();
                    var unknowns = hidden.Count + (wholeSuppressed && wholeSize > 0 ? 1 : 0);
                    var safe = unknowns != 1 && (wholeSuppressed || mass == 0 || mass >= minimumGroupSize);
                    if (safe)
                    {
                        break;
                    }

                    if (open.Count == 0)
                    {
                        suppressed.Add(whole);
                        wholeSuppressed = true;
                    }
                    else
                    {
                        suppressed.Add(open[0]);
                    }

                    changed = true;
                }
            }
        }

        return new SuppressionTable(groups, suppressed, minimumGroupSize);
    }

    private static void AddTo(Dictionary<GroupKey, Aggregate> groups, GroupKey key, Aggregate aggregate)
    {
        if (!groups.TryGetValue(key, out var sum))
        {
            groups[key] = sum = new Aggregate();
        }

        sum.Add(aggregate);
    }

    /// <summary>Every (whole, parts) equation an observer of reported groups could subtract with.</summary>
    internal static List<(GroupKey Whole, GroupKey[] Parts)> Partitions(Dictionary<GroupKey, Aggregate> groups, OrgTree tree, HashSet<string> units,
        HashSet<string> tenures, HashSet<string> roles, HashSet<string> locations)
    {
        var result = new List<(GroupKey, GroupKey[])>();
        foreach (var key in groups.Keys)
        {
            if (key.Descendants)
            {
                var parts = new List<GroupKey> { key with { Descendants = false } };
                parts.AddRange(tree.Children(key.Unit).Where(units.Contains).Select(child => key with { Unit = child }));
                result.Add((key, [.. parts]));
            }

            if (key.Tenure is null)
            {
                result.Add((key, [.. tenures.Select(v => key with { Tenure = v })]));
            }

            if (key.Role is null)
            {
                result.Add((key, [.. roles.Select(v => key with { Role = v })]));
            }

            if (key.Location is null)
            {
                result.Add((key, [.. locations.Select(v => key with { Location = v })]));
            }
        }

        return result;
    }
}
