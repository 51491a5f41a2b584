namespace Transformation.Incentives.Api.Model;

/// <summary>One person of a period's population: their org unit and the points granted to them in the period (0 when none).</summary>
public sealed record EmployeePoints(string EmployeeId, string OrgUnitId, int Points);

public sealed record UnitEquity(string OrgUnitId, int Employees, int RecognisedEmployees, int Points, double RecognisedShare, double PointsPerEmployee);

/// <summary>
/// Who is recognised: per org unit (units smaller than the minimum group size are left out, never reported), and over
/// everyone: the share of people recognised and the Gini coefficient of points per person.
/// </summary>
public sealed record EquityReport(IReadOnlyList<UnitEquity> Units, int SuppressedUnits, int Employees, double RecognisedShare, double PointsGini);

public static class RecognitionEquity
{
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
