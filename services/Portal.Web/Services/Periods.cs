using System.Globalization;
using Transformation.Incentives.V1;

namespace Transformation.Portal.Web.Services;

/// <summary>Incentive period keys as the Incentives service names them: "2026-11" (month), "2026-Q4" (quarter), "2026-W47" (ISO week).</summary>
public static class Periods
{
    public static string Of(PeriodKind kind, DateTimeOffset instant)
    {
        var utc = instant.UtcDateTime;
        return kind switch
        {
            PeriodKind.Week => $"{ISOWeek.GetYear(utc):D4}-W{ISOWeek.GetWeekOfYear(utc):D2}",
            PeriodKind.Quarter => $"{utc.Year:D4}-Q{((utc.Month - 1) / 3) + 1}",
            _ => $"{utc.Year:D4}-{utc.Month:D2}",
        };
    }

    /// <summary>The <paramref name="count"/> periods up to the one containing <paramref name="now"/>, oldest first.</summary>
    public static IReadOnlyList<string> Last(PeriodKind kind, DateTimeOffset now, int count)
    {
        var keys = new List<string>(count);
        for (var i = count - 1; i >= 0; i--)
        {
            keys.Add(Of(kind, kind switch
            {
                PeriodKind.Week => now.AddDays(-7 * i),
                PeriodKind.Quarter => now.AddMonths(-3 * i),
                _ => now.AddMonths(-i),
            }));
        }

        return keys;
    }
}
