using Transformation.Baselines.Api.Model;

namespace Transformation.Baselines.UnitTests;

public sealed class SuppressionTests
{
    // root ─ a ─ a1
    //      │   └ a2
    //      └ b
    private static readonly OrgTree Tree = new(new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["root"] = "", ["a"] = "root", ["a1"] = "a", ["a2"] = "a", ["b"] = "root",
    });

    private static Cell C(string unit, int n, string tenure = "t1", string role = "r1", string location = "l1")
    {
        var aggregate = new Aggregate();
        for (var i = 0; i < n; i++)
        {
            aggregate.AddRespondent([(i % 5) + 1]);
        }

        return new Cell(unit, tenure, role, location, aggregate);
    }

    private static GroupKey K(string unit, bool descendants = true, string? tenure = null, string? role = null, string? location = null) =>
        new(unit, descendants, tenure, role, location);

    [Fact]
    public void AGroupBelowTheMinimumIsSuppressed()
    {
        var table = SuppressionTable.Build([C("a1", 4), C("a2", 10), C("b", 10), C("a", 10)], Tree, 5);
        table.IsSuppressed(K("a1")).ShouldBeTrue();
        table.IsSuppressed(K("b")).ShouldBeFalse();
    }

    [Fact]
    public void AUnitWithAndWithoutDescendantsDifferingByFewerThanTheMinimumAreNotBothShown()
    {
        // a alone has 10, a with descendants 13: a1 + a2 = 3 people would be the difference.
        var table = SuppressionTable.Build([C("a", 10), C("a1", 2), C("a2", 1), C("b", 20)], Tree, 5);
        (table.IsSuppressed(K("a", descendants: true)) && table.IsSuppressed(K("a", descendants: false))).ShouldBeFalse();
        (table.IsSuppressed(K("a", true)) || table.IsSuppressed(K("a", false))).ShouldBeTrue();
    }

    [Fact]
    public void AUnitMinusItsReportedSubUnitsCannotIsolateASmallRemainder()
    {
        // a with descendants = a alone (3) + a1 (10) + a2 (10): a1 and a2 cannot both be shown with a.
        var table = SuppressionTable.Build([C("a", 3), C("a1", 10), C("a2", 10), C("b", 20)], Tree, 5);
        table.IsSuppressed(K("a", false)).ShouldBeTrue();
        (table.IsSuppressed(K("a1")) || table.IsSuppressed(K("a2")) || table.IsSuppressed(K("a"))).ShouldBeTrue();
    }

    [Fact]
    public void AFilterWhoseComplementIsSmallIsSuppressed()
    {
        // b has 20 in tenure t1 and 2 in t2: b minus (b, t1) would show the 2.
        var table = SuppressionTable.Build([C("b", 20, "t1"), C("b", 2, "t2"), C("a", 30)], Tree, 5);
        table.IsSuppressed(K("b", tenure: "t2")).ShouldBeTrue();
        (table.IsSuppressed(K("b")) || table.IsSuppressed(K("b", tenure: "t1"))).ShouldBeTrue();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void AnAttackerSubtractingReportedGroupsNeverIsolatesFewerThanTheMinimum(int seed)
    {
        var random = new Random(seed);
        string[] units = ["root", "a", "a1", "a2", "b"];
        var cells = new List<Cell>();
        foreach (var unit in units)
        {
            foreach (var tenure in new[] { "t1", "t2" })
            {
                foreach (var role in new[] { "r1", "r2" })
                {
                    var n = random.Next(0, 9);
                    if (n > 0)
                    {
                        cells.Add(C(unit, n, tenure, role, "l1"));
                    }
                }
            }
        }

        var table = SuppressionTable.Build(cells, Tree, 5);
        Attacker.Leaks(table, Tree, units, ["t1", "t2"], ["r1", "r2"], ["l1"], 5).ShouldBeEmpty();
    }
}

/// <summary>
/// An observer who knows every reported group's size and the partitions (a unit = itself alone + its children;
/// a group = its groups by each value of an attribute) and solves any equation with one unknown, repeatedly.
/// Returns the groups it derives that have 1 to k-1 members.
/// </summary>
internal static class Attacker
{
    public static List<(GroupKey Key, long Size)> Leaks(SuppressionTable table, OrgTree tree, string[] units, string[] tenures, string[] roles,
        string[] locations, int minimum)
    {
        var keys = new List<GroupKey>();
        foreach (var unit in units)
        {
            foreach (var descendants in new[] { false, true })
            {
                foreach (var tenure in tenures.Append(null))
                {
                    foreach (var role in roles.Append(null))
                    {
                        foreach (var location in locations.Append(null))
                        {
                            keys.Add(new GroupKey(unit, descendants, tenure, role, location));
                        }
                    }
                }
            }
        }

        var known = new Dictionary<GroupKey, long>();
        foreach (var key in keys)
        {
            if (table.Reportable(key) is { } aggregate)
            {
                known[key] = aggregate.N;
            }
        }

        var equations = new List<(GroupKey Whole, GroupKey[] Parts)>();
        foreach (var key in keys)
        {
            if (key.Descendants)
            {
                equations.Add((key, [key with { Descendants = false }, .. tree.Children(key.Unit).Select(c => key with { Unit = c })]));
            }

            if (key.Tenure is null)
            {
                equations.Add((key, [.. tenures.Select(v => key with { Tenure = v })]));
            }

            if (key.Role is null)
            {
                equations.Add((key, [.. roles.Select(v => key with { Role = v })]));
            }

            if (key.Location is null)
            {
                equations.Add((key, [.. locations.Select(v => key with { Location = v })]));
            }
        }

        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var (whole, parts) in equations)
            {
                var unknownParts = parts.Where(p => !known.ContainsKey(p)).ToList();
                if (known.TryGetValue(whole, out var total) && unknownParts.Count == 1)
                {
                    known[unknownParts[0]] = total - parts.Where(known.ContainsKey).Sum(p => known[p]);
                    changed = true;
                }
                else if (!known.ContainsKey(whole) && unknownParts.Count == 0)
                {
                    known[whole] = parts.Sum(p => known[p]);
                    changed = true;
                }
            }
        }

        return [.. known.Where(k => k.Value > 0 && k.Value < minimum).Select(k => (k.Key, k.Value))];
    }
}
