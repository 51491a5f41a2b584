namespace Transformation.Incentives.Api.Model;

/// <summary>One org unit's public points in a period, with its direct members now.</summary>
public sealed record TeamPoints(string OrgUnitId, string Name, int Members, int Points, int Rewards);

/// <summary>Team-only leaderboards: org units ranked by points, never a unit small enough for its total to stand for one or two people.</summary>
public static class Leaderboards
{
    /// <summary>
    /// The units of at least <paramref name="minimumGroupSize"/> members, by points, then rewards, then id, at most
    /// <paramref name="limit"/> of them; and how many units were left out for being smaller (whatever the limit).
    /// </summary>
    public static (IReadOnlyList<TeamPoints> Shown, int Suppressed) Teams(IEnumerable<TeamPoints> units, int minimumGroupSize, int limit)
    {
        ArgumentNullException.ThrowIfNull(units);
        var all = units.ToList();
        var large = all.Where(u => u.Members >= minimumGroupSize).ToList();
        var shown = large
            .OrderByDescending(u => u.Points)
            .ThenByDescending(u => u.Rewards)
            .ThenBy(u => u.OrgUnitId, StringComparer.Ordinal)
            .Take(limit)
            .ToList();
        return (shown, all.Count - large.Count);
    }
}
