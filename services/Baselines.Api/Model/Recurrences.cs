using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Model;

/// <summary>The calendar of a pulse recurrence: when each occurrence opens and closes, and which is due.</summary>
public static class Recurrences
{
    public const int MaxEvery = 52;
    public const int MaxIdLength = 50;

    /// <summary>When occurrence <paramref name="index"/> (from 0) opens: always counted from the start, so months never drift.</summary>
    public static DateTimeOffset OpensAt(SurveyRecurrence recurrence, long index)
    {
        var start = recurrence.StartsAt.ToDateTimeOffset();
        var periods = checked((int)(index * recurrence.Every));
        return recurrence.Period switch
        {
            RecurrencePeriod.Week => start.AddDays(7.0 * periods),
            RecurrencePeriod.Month => start.AddMonths(periods),
            RecurrencePeriod.Quarter => start.AddMonths(3 * periods),
            _ => throw new ArgumentOutOfRangeException(nameof(recurrence), recurrence.Period, "No such period."),
        };
    }

    public static DateTimeOffset ClosesAt(SurveyRecurrence recurrence, long index) => OpensAt(recurrence, index).AddDays(recurrence.OpenDays);

    /// <summary>The latest occurrence opening at or before <paramref name="now"/>; null before the first.</summary>
    public static long? LatestDue(SurveyRecurrence recurrence, DateTimeOffset now)
    {
        var start = recurrence.StartsAt.ToDateTimeOffset();
        if (now < start)
        {
            return null;
        }

        // An estimate from the elapsed periods, then corrected by at most a step either way (month lengths vary).
        long elapsed = recurrence.Period == RecurrencePeriod.Week ? (long)((now - start).TotalDays / 7)
            : ((now.Year - start.Year) * 12L + now.Month - start.Month) / (recurrence.Period == RecurrencePeriod.Quarter ? 3 : 1);
        var index = Math.Max(0, elapsed / recurrence.Every);
        while (index > 0 && OpensAt(recurrence, index) > now)
        {
            index--;
        }

        while (OpensAt(recurrence, index + 1) <= now)
        {
            index++;
        }

        return index;
    }

    /// <summary>The fewest days between two occurrences: an occurrence is open at most that long.</summary>
    public static int ShortestGapDays(RecurrencePeriod period, int every) => period switch
    {
        RecurrencePeriod.Week => 7 * every,
        RecurrencePeriod.Month => 28 * every,
        _ => 89 * every,
    };

    /// <summary>The violations of a recurrence's own fields (under <c>recurrence.</c>); its units and items are checked against the service's.</summary>
    public static List<(string Field, string Description)> Validate(SurveyRecurrence? recurrence)
    {
        var violations = new List<(string, string)>();
        if (recurrence is null)
        {
            violations.Add(("recurrence", "The recurrence is required."));
            return violations;
        }

        if (recurrence.Title.Trim().Length is 0 or > 150)
        {
            violations.Add(("recurrence.title", "A title of 1 to 150 characters is required."));
        }

        var periodKnown = recurrence.Period != RecurrencePeriod.Unspecified && Enum.IsDefined(recurrence.Period);
        if (!periodKnown)
        {
            violations.Add(("recurrence.period", "Weeks, months or quarters."));
        }

        if (recurrence.Every is < 1 or > MaxEvery)
        {
            violations.Add(("recurrence.every", $"1 to {MaxEvery} periods between occurrences."));
        }

        if (recurrence.StartsAt is null)
        {
            violations.Add(("recurrence.starts_at", "The first occurrence's opening is required."));
        }

        var longest = periodKnown && recurrence.Every is >= 1 and <= MaxEvery ? ShortestGapDays(recurrence.Period, recurrence.Every) : 366 * MaxEvery;
        if (recurrence.OpenDays < 1 || recurrence.OpenDays > longest)
        {
            violations.Add(("recurrence.open_days", $"1 to {longest} days: an occurrence closes before the next opens."));
        }

        if (recurrence.PopulationOrgUnitIds.Count == 0)
        {
            violations.Add(("recurrence.population_org_unit_ids", "At least one org unit."));
        }

        if (recurrence.ItemIds.Count == 0 || recurrence.ItemIds.Distinct(StringComparer.Ordinal).Count() != recurrence.ItemIds.Count)
        {
            violations.Add(("recurrence.item_ids", "At least one item, each once."));
        }

        violations.AddRange(SurveyMail.Validate(recurrence.Reminders, "recurrence.reminders"));
        return violations;
    }
}
