using Transformation.Directory.V1;

namespace Transformation.Portal.Web.Services;

/// <summary>The org units and people as the Directory has them now: for names, pickers and scopes.</summary>
public sealed class OrgSnapshot(IReadOnlyList<OrgUnitSnapshot> units, IReadOnlyList<EmployeeSnapshot> people)
{
    private readonly Dictionary<string, OrgUnitSnapshot> _units = units.ToDictionary(u => u.OrgUnitId, StringComparer.Ordinal);
    private readonly Dictionary<string, EmployeeSnapshot> _people = people.ToDictionary(p => p.EmployeeId, StringComparer.Ordinal);

    /// <summary>Parents before children.</summary>
    public IReadOnlyList<OrgUnitSnapshot> Units { get; } = units;

    /// <summary>Active people, by name.</summary>
    public IReadOnlyList<EmployeeSnapshot> People { get; } = [.. people.OrderBy(p => p.DisplayName, StringComparer.OrdinalIgnoreCase)];

    /// <summary>The top of the tree (the organisation), or null when the Directory is empty.</summary>
    public OrgUnitSnapshot? Root => Units.FirstOrDefault(u => u.ParentId.Length == 0);

    public string PersonName(string employeeId) =>
        employeeId.Length == 0 ? "" : _people.TryGetValue(employeeId, out var person) && person.DisplayName.Length > 0 ? person.DisplayName : employeeId;

    public string UnitName(string orgUnitId) =>
        orgUnitId.Length == 0 ? "" : _units.TryGetValue(orgUnitId, out var unit) && unit.Name.Length > 0 ? unit.Name : orgUnitId;

    /// <summary>The name of the person or org unit with this id; null when there is none.</summary>
    public string? NameOf(string id) =>
        _people.TryGetValue(id, out var person) && person.DisplayName.Length > 0 ? person.DisplayName
        : _units.TryGetValue(id, out var unit) && unit.Name.Length > 0 ? unit.Name : null;

    public EmployeeSnapshot? Person(string employeeId) => _people.GetValueOrDefault(employeeId);

    /// <summary>How deep a unit sits (the root is 0), for indenting.</summary>
    public int Depth(string orgUnitId)
    {
        var depth = 0;
        while (_units.TryGetValue(orgUnitId, out var unit) && unit.ParentId.Length > 0 && depth < 64)
        {
            orgUnitId = unit.ParentId;
            depth++;
        }

        return depth;
    }
}

/// <summary>
/// Loads the organisation once per circuit (or request) and keeps it; a failed load is tried again next time. Pages that
/// only name units ask for <see cref="UnitsAsync"/>, which leaves the people (the larger part) unread.
/// </summary>
public sealed class Organisation(DirectoryClient directory)
{
    private readonly Slot _units = new();
    private readonly Slot _everyone = new();

    /// <summary>The org units and everyone in them.</summary>
    public Task<OrgSnapshot> GetAsync(CancellationToken cancellationToken = default) => Cached(_everyone, () => LoadAsync(people: true, cancellationToken));

    /// <summary>The org units only (people's names fall back to their ids).</summary>
    public Task<OrgSnapshot> UnitsAsync(CancellationToken cancellationToken = default) =>
        _everyone.Loading is { IsCompletedSuccessfully: true } everyone ? everyone : Cached(_units, () => LoadAsync(people: false, cancellationToken));

    private static async Task<OrgSnapshot> Cached(Slot slot, Func<Task<OrgSnapshot>> load)
    {
        var loading = slot.Loading ??= load();
        try
        {
            return await loading;
        }
        catch
        {
            // Not kept: the next page asks the Directory again.
            if (slot.Loading == loading)
            {
                slot.Loading = null;
            }

            throw;
        }
    }

    private async Task<OrgSnapshot> LoadAsync(bool people, CancellationToken cancellationToken)
    {
        var tree = await directory.GetOrgTreeAsync(new GetOrgTreeRequest(), cancellationToken: cancellationToken);
        if (!people)
        {
            return new OrgSnapshot([.. tree.OrgUnits], []);
        }

        var roots = tree.OrgUnits.Where(u => u.ParentId.Length == 0).ToList();
        var members = await Task.WhenAll(roots.Select(root =>
            directory.ListUnitMembersAsync(new ListUnitMembersRequest { OrgUnitId = root.OrgUnitId, IncludeDescendants = true }, cancellationToken: cancellationToken).ResponseAsync));
        return new OrgSnapshot([.. tree.OrgUnits], [.. members.SelectMany(m => m.Employees)]);
    }

    private sealed class Slot
    {
        public Task<OrgSnapshot>? Loading { get; set; }
    }
}
