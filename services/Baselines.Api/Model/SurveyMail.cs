using System.Globalization;
using System.Text.RegularExpressions;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Model;

/// <summary>The rules of a survey's mail: the templates HR edits, how one is filled in, and when a scheduled reminder is due.</summary>
public static partial class SurveyMail
{
    public const int MaxSubjectLength = 200;
    public const int MaxBodyLength = 10_000;
    public const int MaxReminderDays = 365;

    /// <summary>The placeholders a template may use.</summary>
    public static readonly string[] Placeholders = ["name", "survey", "link", "closes"];

    /// <summary>The texts used until HR saves its own.</summary>
    public static SurveyMailTemplate Default(SurveyMailKind kind) => kind switch
    {
        SurveyMailKind.Invitation => new SurveyMailTemplate
        {
            Kind = kind, Subject = "Your view, please: {survey}",
            Body = "Hello {name},\n\nYou are invited to answer {survey}. Your answers are anonymous: they are stored apart from your name, and results are only shown for groups large enough that no one can be singled out.\n\nAnswer here: {link}\n\nThe survey closes on {closes}.",
        },
        SurveyMailKind.Reminder => new SurveyMailTemplate
        {
            Kind = kind, Subject = "Reminder: {survey} closes on {closes}",
            Body = "Hello {name},\n\nYou have not answered {survey} yet. It takes a few minutes, and your answers are anonymous.\n\nAnswer here: {link}\n\nThe survey closes on {closes}.",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a kind of survey mail."),
    };

    public static readonly SurveyMailKind[] Kinds = [SurveyMailKind.Invitation, SurveyMailKind.Reminder];

    /// <summary>The violations of a template HR saves, each naming its field under <paramref name="prefix"/>.</summary>
    public static List<(string Field, string Description)> Validate(SurveyMailTemplate? template, string prefix = "template")
    {
        var violations = new List<(string, string)>();
        if (template is null)
        {
            violations.Add((prefix, "The template is required."));
            return violations;
        }

        if (!Kinds.Contains(template.Kind))
        {
            violations.Add(($"{prefix}.kind", "Invitation or reminder."));
        }

        Check(template.Subject, "subject", MaxSubjectLength);
        Check(template.Body, "body", MaxBodyLength);
        if (template.Subject.Contains('\n', StringComparison.Ordinal) || template.Subject.Contains('\r', StringComparison.Ordinal))
        {
            violations.Add(($"{prefix}.subject", "One line."));
        }

        if (!template.Body.Contains("{link}", StringComparison.Ordinal))
        {
            violations.Add(($"{prefix}.body", "The body must contain {link}: the invitee answers there."));
        }

        return violations;

        void Check(string text, string field, int max)
        {
            if (string.IsNullOrWhiteSpace(text) || text.Length > max)
            {
                violations.Add(($"{prefix}.{field}", $"1 to {max} characters."));
                return;
            }

            foreach (Match match in Placeholder().Matches(text))
            {
                if (!Placeholders.Contains(match.Groups["name"].Value, StringComparer.Ordinal))
                {
                    violations.Add(($"{prefix}.{field}", $"{match.Value} is not a placeholder: use {{name}}, {{survey}}, {{link}} or {{closes}}."));
                }
            }
        }
    }

    /// <summary>The template's text with each placeholder replaced (in one pass: a value is never read as a placeholder).</summary>
    public static string Fill(string text, string name, string survey, string link, DateTimeOffset closes) =>
        Placeholder().Replace(text, match => match.Groups["name"].Value switch
        {
            "name" => name.Length > 0 ? name : "colleague",
            "survey" => survey,
            "link" => link,
            "closes" => closes.UtcDateTime.ToString("d MMMM yyyy, HH:mm 'UTC'", CultureInfo.InvariantCulture),
            _ => match.Value,
        });

    /// <summary>The schedule's violations (each at most a year; zero for none).</summary>
    public static List<(string Field, string Description)> Validate(SurveyReminderSchedule? schedule, string prefix = "reminders")
    {
        var violations = new List<(string, string)>();
        if (schedule is { EveryDays: < 0 or > MaxReminderDays })
        {
            violations.Add(($"{prefix}.every_days", $"0 (none) to {MaxReminderDays} days."));
        }

        if (schedule is { DaysBeforeClose: < 0 or > MaxReminderDays })
        {
            violations.Add(($"{prefix}.days_before_close", $"0 (none) to {MaxReminderDays} days."));
        }

        return violations;
    }

    /// <summary>
    /// True when a scheduled reminder is due at <paramref name="now"/>: <c>every_days</c> after the opening or the last reminder
    /// (whichever is later), or <c>days_before_close</c> before the close when no reminder went since that moment. Never once closed.
    /// </summary>
    public static bool ReminderDue(SurveyReminderSchedule schedule, DateTimeOffset opensAt, DateTimeOffset closesAt, DateTimeOffset? lastReminded,
        DateTimeOffset now)
    {
        if (now >= closesAt || now < opensAt)
        {
            return false;
        }

        if (schedule.EveryDays > 0 && now >= (lastReminded ?? opensAt).AddDays(schedule.EveryDays))
        {
            return true;
        }

        var beforeClose = closesAt.AddDays(-schedule.DaysBeforeClose);
        return schedule.DaysBeforeClose > 0 && now >= beforeClose && (lastReminded is null || lastReminded < beforeClose);
    }

    [GeneratedRegex(@"\{(?<name>[a-z_]*)\}", RegexOptions.None, matchTimeoutMilliseconds: 100)]
    private static partial Regex Placeholder();
}
