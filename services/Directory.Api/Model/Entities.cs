using System.Text.RegularExpressions;
using Transformation.Csv;
using Transformation.Directory.V1;

namespace Transformation.Directory.Api.Model;

/// <summary>One version of an org unit. <see cref="ParentId"/> is empty for the root(s) of the tree.</summary>
public sealed record OrgUnit(string Id, string Name, string ParentId, OrgUnitKind Kind, bool Closed = false, long Version = 0,
    DateTimeOffset EffectiveFrom = default)
{
    /// <summary>Whether the fields that make a version (not the version itself) are equal.</summary>
    public bool SameAs(OrgUnit other) =>
        string.Equals(Name, other.Name, StringComparison.Ordinal)
        && string.Equals(ParentId, other.ParentId, StringComparison.Ordinal)
        && Kind == other.Kind
        && Closed == other.Closed;
}

/// <summary>One version of an employee. Personal fields (display name, email) are empty once erased.</summary>
public sealed record Employee(string Id, string DisplayName, string Email, string OrgUnitId, string ManagerId, IReadOnlyList<Role> Roles,
    bool Active = true, long Version = 0, DateTimeOffset EffectiveFrom = default, bool Erased = false)
{
    /// <summary>Roles sorted and without duplicates or ROLE_UNSPECIFIED, so that equal sets compare equal.</summary>
    public static IReadOnlyList<Role> NormaliseRoles(IEnumerable<Role> roles) =>
        roles.Where(r => r != Role.Unspecified).Distinct().Order().ToList();

    public bool SameAs(Employee other) =>
        string.Equals(DisplayName, other.DisplayName, StringComparison.Ordinal)
        && string.Equals(Email, other.Email, StringComparison.Ordinal)
        && string.Equals(OrgUnitId, other.OrgUnitId, StringComparison.Ordinal)
        && string.Equals(ManagerId, other.ManagerId, StringComparison.Ordinal)
        && Roles.SequenceEqual(other.Roles)
        && Active == other.Active;

    public bool MovedFrom(Employee previous) =>
        !string.Equals(OrgUnitId, previous.OrgUnitId, StringComparison.Ordinal)
        || !string.Equals(ManagerId, previous.ManagerId, StringComparison.Ordinal);
}

/// <summary>A rule a proposed state breaks: which entity, which field, why.</summary>
public sealed record Violation(EntityType Entity, string Id, string Field, string Description);

public enum EntityType
{
    OrgUnit,
    Employee,
}

/// <summary>The forms of ids and emails the Directory accepts (the names of roles and kinds are <see cref="DirectoryNames"/>).</summary>
public static partial class Names
{
    /// <summary>Ids: letters, digits and . _ @ - (at most 128), starting with a letter or digit.</summary>
    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    public static bool IsValidEmail(string email) =>
        email.Length <= 254 && EmailPattern().IsMatch(email);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex EmailPattern();
}
