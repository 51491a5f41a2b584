using System.Globalization;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>Periods are named by keys that sort in time: "2026-11" (month), "2026-Q4" (quarter), "2026-W47" (ISO week).</summary>
public static partial class Period
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

    /// <summary>Whether <paramref name="key"/> is a well-formed period key of any kind.</summary>
    public static bool IsValidKey(string key) => !string.IsNullOrEmpty(key) && KeyPattern().IsMatch(key);

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9]{4}-(?:0[1-9]|1[0-2]|Q[1-4]|W(?:0[1-9]|[1-4][0-9]|5[0-3]))$", System.Text.RegularExpressions.RegexOptions.None, 1000)]
    private static partial System.Text.RegularExpressions.Regex KeyPattern();
}
