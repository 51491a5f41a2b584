using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bogus;
using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Demo;

/// <summary>A person of the demo organisation. <see cref="Slot"/> names the people the demo refers to (ceo, coo, change-manager-1, …).</summary>
public sealed record DemoPerson(string Id, string Name, string Email, string OrgUnitId, string ManagerId, IReadOnlyList<Role> Roles, string Title,
    string Slot)
{
    /// <summary>The role names a token for this person carries.</summary>
    public IReadOnlyList<string> RoleNames => [.. Roles.Select(DemoOrganisation.RoleName)];

    public string FirstName => Name.Split(' ')[0];
}

/// <summary>
/// The demo organisation, the same for the same size and seed on every run: 8 org units (the cooperative's leadership at the root
/// and seven units below it), people with realistic names from Bogus, managers (unit heads, team leads of about eight), and the
/// roles the product needs (three executives, two hr, four change managers, an operator; everyone is also an employee).
/// </summary>
public sealed class DemoOrganisation
{
    public const int DefaultEmployees = 600;
    public const int DefaultSeed = 20261122;
    public const int MinimumEmployees = 50;
    public const int MaximumEmployees = 20_000;

    /// <summary>Every unit below the root has at least this many people, so that its survey scores are reportable.</summary>
    private const int MinimumUnitSize = 6;

    private const int TeamSize = 8;

    private DemoOrganisation(int size, int seed, IReadOnlyList<DemoPerson> people)
    {
        Size = size;
        Seed = seed;
        People = people;
        ById = people.ToDictionary(p => p.Id, StringComparer.Ordinal);
    }

    public int Size { get; }

    public int Seed { get; }

    public IReadOnlyList<DemoPerson> People { get; }

    public IReadOnlyDictionary<string, DemoPerson> ById { get; }

    public DemoPerson this[string slot] => People.First(p => string.Equals(p.Slot, slot, StringComparison.Ordinal));

    /// <summary>The people of a unit (without its sub-units).</summary>
    public IReadOnlyList<DemoPerson> MembersOf(string unitId) => [.. People.Where(p => string.Equals(p.OrgUnitId, unitId, StringComparison.Ordinal))];

    /// <summary>The people a demo visitor signs in as, one or more per role.</summary>
    public IReadOnlyList<DemoPerson> Identities =>
    [
        this["hr-lead"], this["ceo"], this["coo"], this["change-manager-1"], this["operator"], People.First(p => string.Equals(p.Slot, "member", StringComparison.Ordinal)),
    ];

    public static string RoleName(Role role) => role switch
    {
        Role.Hr => Roles.Hr,
        Role.Executive => Roles.Executive,
        Role.ChangeManager => Roles.ChangeManager,
        Role.Operator => Roles.Operator,
        _ => Roles.Employee,
    };

    public static DemoOrganisation Generate(int employees = DefaultEmployees, int seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(employees, MinimumEmployees);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(employees, MaximumEmployees);
        var faker = new Faker("en_GB") { Random = new Randomizer(seed) };
        var people = new List<DemoPerson>(employees);
        var emails = new HashSet<string>(StringComparer.Ordinal);

        DemoPerson Add(string unit, string manager, string title, string slot, params Role[] roles)
        {
            var first = faker.Name.FirstName();
            var last = faker.Name.LastName();
            var local = $"{Letters(first)}.{Letters(last)}";
            var email = $"{local}@{DemoCatalogue.EmailDomain}";
            for (var n = 2; !emails.Add(email); n++)
            {
                email = $"{local}{n}@{DemoCatalogue.EmailDomain}";
            }

            var person = new DemoPerson($"emp-{people.Count + 1:D4}", $"{first} {last}", email, unit, manager, [.. roles.Append(Role.Employee)], title, slot);
            people.Add(person);
            return person;
        }

        // The leadership at the root: three executives and the transformation office's four change managers.
        var root = DemoCatalogue.RootId;
        var ceo = Add(root, "", "Chief Executive", "ceo", Role.Executive);
        var coo = Add(root, ceo.Id, "Chief Operating Officer", "coo", Role.Executive);
        var cco = Add(root, ceo.Id, "Chief Customer Officer", "cco", Role.Executive);
        for (var i = 1; i <= 4; i++)
        {
            Add(root, coo.Id, "Change Manager", $"change-manager-{i}", Role.ChangeManager);
        }

        var units = DemoCatalogue.Units.Where(u => u.ParentId.Length > 0).ToList();
        var sizes = Distribute(employees - people.Count, units);
        var executives = new Dictionary<string, DemoPerson>(StringComparer.Ordinal)
        {
            ["operations"] = coo, ["supply-chain"] = coo, ["engineering"] = coo, ["customer-care"] = cco, ["sales-partnerships"] = cco,
            ["finance"] = ceo, ["people-culture"] = ceo,
        };
        for (var u = 0; u < units.Count; u++)
        {
            var unit = units[u];
            var isPeople = string.Equals(unit.Id, "people-culture", StringComparison.Ordinal);
            var head = isPeople
                ? Add(unit.Id, executives[unit.Id].Id, "Chief People Officer", "hr-lead", Role.Hr)
                : Add(unit.Id, executives[unit.Id].Id, $"Head of {unit.Name}", "head");
            var others = sizes[u] - 1;
            var leads = new List<DemoPerson>();
            var teams = Math.Max(1, (int)Math.Ceiling(others / (double)(TeamSize + 1)));
            for (var t = 0; t < teams && others > 0; t++, others--)
            {
                leads.Add(Add(unit.Id, head.Id, "Team Lead", "lead"));
            }

            for (var m = 0; others > 0; m++, others--)
            {
                var lead = leads[m % leads.Count];
                if (isPeople && m == 0)
                {
                    Add(unit.Id, head.Id, "HR Business Partner", "hr-partner", Role.Hr);
                }
                else if (string.Equals(unit.Id, "engineering", StringComparison.Ordinal) && m == 0)
                {
                    Add(unit.Id, lead.Id, "Site Reliability Engineer", "operator", Role.Operator);
                }
                else
                {
                    Add(unit.Id, lead.Id, faker.Name.JobTitle(), "member");
                }
            }
        }

        return new DemoOrganisation(employees, seed, people);
    }

    /// <summary>An opaque respondent token per person and assessment (never the employee id).</summary>
    public string RespondentToken(string assessmentId, DemoPerson person) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Seed}\n{assessmentId}\n{person.Id}")).AsSpan(0, 12));

    /// <summary>A key that names this organisation's content: a different size or seed gives a different key.</summary>
    public string Fingerprint => string.Create(CultureInfo.InvariantCulture, $"{Size}-{Seed}");

    /// <summary>Every unit below the root gets at least <see cref="MinimumUnitSize"/> people; the rest by weight (largest remainder).</summary>
    private static int[] Distribute(int total, List<DemoUnitDefinition> units)
    {
        var rest = total - (MinimumUnitSize * units.Count);
        var weights = units.Sum(u => u.Weight);
        var shares = units.Select(u => rest * u.Weight / weights).ToArray();
        var sizes = shares.Select(s => MinimumUnitSize + (int)Math.Floor(s)).ToArray();
        var left = total - sizes.Sum();
        foreach (var index in shares.Select((s, i) => (Fraction: s - Math.Floor(s), Index: i)).OrderByDescending(x => x.Fraction).ThenBy(x => x.Index).Take(left))
        {
            sizes[index.Index]++;
        }

        return sizes;
    }

    private static string Letters(string name) => new([.. name.ToLowerInvariant().Where(char.IsAsciiLetterLower)]);
}
