using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>One person of a period's population: their org unit and the points granted to them in the period (0 when none).</summary>
public sealed record EmployeePoints(string EmployeeId, string OrgUnitId, int Points);

public sealed record UnitEquity(string OrgUnitId, int Employees, int RecognisedEmployees, int Points, double RecognisedShare, double PointsPerEmployee);

/// <summary>
/// Who is recognised: per org unit (units smaller than the minimum group size are left out, never reported), and over
/// everyone: the share of people recognised and the Gini coefficient of points per person.
/// </summary>
public sealed record EquityReport(IReadOnlyList<UnitEquity> Units, int SuppressedUnits, int Employees, double RecognisedShare, double PointsGini);

/// <summary>What one employee was granted in a period from one source: points and rewards.</summary>
public sealed record SourceGrants(string EmployeeId, ObservationSource Source, int Points, int Rewards);

/// <summary>One source's granted points and rewards in a group, and their shares of the group's (0 when it has none).</summary>
public sealed record RecognitionBySource(ObservationSource Source, int Points, int Rewards, double PointsShare, double RewardsShare);

/// <summary>The split by source over everyone and per reported unit (the same units <see cref="RecognitionEquity.Compute"/> reports).</summary>
public sealed record SourceSplit(IReadOnlyList<RecognitionBySource> Overall, IReadOnlyDictionary<string, IReadOnlyList<RecognitionBySource>> ByUnit);

public static class RecognitionEquity
{
    /// <summary>The sources reported, in this order.</summary>
    public static readonly IReadOnlyList<ObservationSource> Sources =
    [
        ObservationSource.Manager, ObservationSource.Peer, ObservationSource.SystemIntegration, ObservationSource.CustomerFeedback, ObservationSource.PartnerFeedback,
    ];

    /// <summary>
    /// Who recognises: the share of granted points and rewards by source (manager versus peer, system, customer,
    /// partner), over everyone and per unit of the people's population. The same suppression as
    /// <see cref="Compute"/>: a unit is split only from <paramref name="minimumGroupSize"/> people on, and with fewer
    /// people than that in all, nothing is reported. A grant to someone outside the population counts in no unit but
    /// in the overall split.
    /// </summary>
    public static SourceSplit SplitBySource(IEnumerable<EmployeePoints> people, IEnumerable<SourceGrants> grants, int minimumGroupSize)
    {
        ArgumentNullException.ThrowIfNull(people);
        ArgumentNullException.ThrowIfNull(grants);
        var everyone = people.ToList();
        if (everyone.Count == 0 || everyone.Count < minimumGroupSize)
        {
            return new SourceSplit([], new Dictionary<string, IReadOnlyList<RecognitionBySource>>(StringComparer.Ordinal));
        }

        var unitOf = everyone.GroupBy(p => p.EmployeeId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().OrgUnitId, StringComparer.Ordinal);
        var reported = everyone.GroupBy(p => p.OrgUnitId, StringComparer.Ordinal).Where(g => g.Count() >= minimumGroupSize).Select(g => g.Key)
            .ToHashSet(StringComparer.Ordinal);
        var all = grants.ToList();
        var grantsOfUnit = all.Where(g => unitOf.ContainsKey(g.EmployeeId)).ToLookup(g => unitOf[g.EmployeeId], StringComparer.Ordinal);
        var byUnit = reported.ToDictionary(unit => unit, unit => Split(grantsOfUnit[unit]), StringComparer.Ordinal);
        return new SourceSplit(Split(all), byUnit);
    }

    private static IReadOnlyList<RecognitionBySource> Split(IEnumerable<SourceGrants> grants)
    {
        var list = grants.ToList();
        var (points, rewards) = (list.Sum(g => g.Points), list.Sum(g => g.Rewards));
        return [.. Sources.Select(source =>
        {
            var (p, r) = (list.Where(g => g.Source == source).Sum(g => g.Points), list.Where(g => g.Source == source).Sum(g => g.Rewards));
            return new RecognitionBySource(source, p, r, Share(p, points), Share(r, rewards));
        })];
    }

    /// <summary>
    /// Computes the report. A person counts as recognised with at least one point granted in the period. Units are
    /// reported only from <paramref name="minimumGroupSize"/> people on (smaller ones still count in the totals); with
    /// fewer people than that in all, nothing is reported.
    /// </summary>
    public static EquityReport Compute(IEnumerable<EmployeePoints> people, int minimumGroupSize)
    {
        ArgumentNullException.ThrowIfNull(people);
        var everyone = people.ToList();
        if (everyone.Count == 0 || everyone.Count < minimumGroupSize)
        {
            return new EquityReport([], 0, everyone.Count, 0, 0);
        }

        var units = everyone
            .GroupBy(p => p.OrgUnitId, StringComparer.Ordinal)
            .Select(g =>
            {
                var employees = g.Count();
                var recognised = g.Count(p => p.Points > 0);
                var points = g.Sum(p => p.Points);
                return new UnitEquity(g.Key, employees, recognised, points, Share(recognised, employees), Share(points, employees));
            })
            .OrderBy(u => u.OrgUnitId, StringComparer.Ordinal)
            .ToList();
        var reported = units.Where(u => u.Employees >= minimumGroupSize).ToList();
        return new EquityReport(reported, units.Count - reported.Count, everyone.Count, Share(everyone.Count(p => p.Points > 0), everyone.Count),
            Gini([.. everyone.Select(p => p.Points)]));
    }

    /// <summary>
    /// The Gini coefficient of non-negative amounts: 0 when all are equal (or there are none, or all are 0),
    /// (n − 1) / n when one of n holds everything. G = 2·Σ i·x(i) / (n·Σ x) − (n + 1) / n over the amounts sorted ascending, i from 1.
    /// </summary>
    public static double Gini(IReadOnlyList<int> amounts)
    {
        ArgumentNullException.ThrowIfNull(amounts);
        if (amounts.Any(a => a < 0))
        {
            throw new ArgumentException("Amounts must not be negative.", nameof(amounts));
        }

        var n = amounts.Count;
        var total = amounts.Sum(a => (long)a);
        if (n == 0 || total == 0)
        {
            return 0;
        }

        var sorted = amounts.Order().ToArray();
        double weighted = 0;
        for (var i = 0; i < n; i++)
        {
            weighted += (i + 1) * (double)sorted[i];
        }

        // Rounding must not leave a tiny negative value for equal amounts.
        return Math.Max(0, (2 * weighted / (n * (double)total)) - ((n + 1) / (double)n));
    }

    private static double Share(int part, int whole) => whole == 0 ? 0 : part / (double)whole;
}
