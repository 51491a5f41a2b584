using System.Globalization;
using Bogus;

namespace Transformation.Cli.Demo;

/// <summary>One row of a directory file (the columns of <see cref="Transformation.Csv.DirectoryCsv"/>, in its order).</summary>
public sealed record DirectoryFileRow(string Record, string Id, string Name, string Email, string ParentId, string Kind, string OrgUnitId,
    string ManagerId, string Roles)
{
    public string[] Fields => [Record, Id, Name, Email, ParentId, Kind, OrgUnitId, ManagerId, Roles];
}

/// <summary>
/// A large organisation for load tests, deterministic from its seed: org units in a tree at most <see cref="Depth"/> levels deep
/// (the organisation, divisions, departments, sub-departments, teams, squads), every inner unit with 5 to 15 units below it, and the
/// people spread over the units: each unit has a head (managed by the head of the unit above), inner units a few staff, and the
/// rest sit in the lowest units (about ten to a team). Rows are produced one at a time, depth first, so a million people are
/// written in memory bounded by the depth (and the distinct names, numbered for unique emails); names come from Bogus.
/// </summary>
public sealed class LargeOrganisation(int people, int seed = DemoOrganisation.DefaultSeed, int depth = LargeOrganisation.Depth)
{
    public const int Depth = 6;
    public const int MinSpan = 5;
    public const int MaxSpan = 15;
    public const int MinimumPeople = 1;
    public const int MaximumPeople = 10_000_000;

    /// <summary>The fewest people a unit below an inner one is planned with (a head and someone to lead).</summary>
    private const int MinChildPeople = 3;

    private static readonly string[] Kinds = ["organisation", "division", "department", "department", "team", "team"];

    private static readonly string[][] UnitNames =
    [
        ["Acme Worldwide"],
        ["Europe", "Americas", "Asia Pacific", "Middle East", "Africa", "Nordics", "Iberia", "Benelux", "Alpine", "Baltics", "Balkans", "Oceania", "Andes", "Caribbean", "Levant"],
        ["Engineering", "Sales", "Finance", "Operations", "Logistics", "Customer Service", "Research", "Marketing", "People", "Legal", "Procurement", "Quality", "Facilities", "Manufacturing", "Security"],
        ["Platform", "Retail", "Wholesale", "Planning", "Field Service", "Accounts", "Analytics", "Compliance", "Supply", "Training", "Partners", "Product", "Billing", "Claims", "Fleet"],
        ["Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbour", "Iris", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid"],
        ["North", "South", "East", "West", "Central", "Coast", "Valley", "Summit", "River", "Bridge", "Forest", "Meadow", "Harbor", "Ridge", "Lake"],
    ];

    private readonly Random _random = new(seed);
    private readonly Faker _faker = new("en_GB") { Random = new Randomizer(seed) };
    private readonly Dictionary<string, int> _emailCounts = new(StringComparer.Ordinal);
    private int _units;
    private int _people;

    /// <summary>Units written so far (all of them once <see cref="Rows"/> is enumerated).</summary>
    public int Units => _units;

    /// <summary>People written so far.</summary>
    public int People => _people;

    public static IReadOnlyList<string> Columns { get; } = ["record", "id", "name", "email", "parent_id", "kind", "org_unit_id", "manager_id", "roles"];

    /// <summary>The units and people, each unit before its people and the units below it. Enumerate once.</summary>
    public IEnumerable<DirectoryFileRow> Rows()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(people, MinimumPeople);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(people, MaximumPeople);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, Kinds.Length);
        return Unit(0, "", "", people, UnitNames[0][0]);
    }

    private IEnumerable<DirectoryFileRow> Unit(int level, string parentId, string parentHead, int budget, string name)
    {
        var id = "u" + (++_units).ToString("D6", CultureInfo.InvariantCulture);
        yield return new DirectoryFileRow("org_unit", id, name, "", parentId, Kinds[level], "", "", "");

        // An inner unit keeps its head and up to three staff; the rest go to 5-15 units below, if each can have a few people.
        var own = level == depth - 1 ? budget : Math.Min(budget, 1 + _random.Next(0, 4));
        var span = Math.Min(_random.Next(MinSpan, MaxSpan + 1), (budget - own) / MinChildPeople);
        if (span < MinSpan)
        {
            own = budget;
            span = 0;
        }

        var head = "";
        for (var i = 0; i < own; i++)
        {
            var person = Person(id, i == 0 ? parentHead : head, Roles(level, i));
            head = i == 0 ? person.Id : head;
            yield return person;
        }

        if (span == 0)
        {
            yield break;
        }

        // Unequal units: weights from 0.5 to 1.5, so every unit gets at least a third of the average.
        var weights = new double[span];
        for (var i = 0; i < span; i++)
        {
            weights[i] = 0.5 + _random.NextDouble();
        }

        var remaining = budget - own;
        var total = weights.Sum();
        var shares = weights.Select(w => (int)(remaining * w / total)).ToArray();
        shares[0] += remaining - shares.Sum();
        var names = UnitNames[level + 1];
        var offset = _random.Next(names.Length);
        for (var i = 0; i < span; i++)
        {
            var childName = $"{names[(offset + i) % names.Length]} {id[1..].TrimStart('0')}.{i + 1}";
            foreach (var row in Unit(level + 1, id, head.Length > 0 ? head : parentHead, shares[i], childName))
            {
                yield return row;
            }
        }
    }

    /// <summary>Everyone is an employee; the top of the organisation is executive, its staff hr, and some staff of inner units change managers.</summary>
    private string Roles(int level, int index) => (level, index) switch
    {
        (0, 0) or (1, 0) => "executive;employee",
        (0, _) => "hr;employee",
        (< 4, > 0) when _random.Next(3) == 0 => "change_manager;employee",
        _ => "employee",
    };

    private DirectoryFileRow Person(string unitId, string managerId, string roles)
    {
        var id = "e" + (++_people).ToString("D7", CultureInfo.InvariantCulture);
        var (first, last) = (_faker.Name.FirstName(), _faker.Name.LastName());
        var local = $"{EmailPart(first)}.{EmailPart(last)}";
        var count = _emailCounts[local] = _emailCounts.GetValueOrDefault(local) + 1;
        local += count > 1 ? count.ToString(CultureInfo.InvariantCulture) : "";
        return new DirectoryFileRow("employee", id, $"{first} {last}", local + "@acme.example", "", "", unitId, managerId, roles);
    }

    private static string EmailPart(string name) => string.Concat(name.Where(char.IsAsciiLetter)).ToLowerInvariant();
}
