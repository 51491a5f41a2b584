using System.ComponentModel.DataAnnotations;
using Transformation.Mail;

namespace Transformation.Baselines.Api;

public sealed class BaselinesOptions : IValidatableObject
{
    public const string Section = "Baselines";

    /// <summary>No figure is reported for a group with fewer respondents (never below 3).</summary>
    [Range(3, 1000)]
    public int MinimumGroupSize { get; set; } = 5;

    /// <summary>Survey invitations and reminders.</summary>
    public SurveyMailOptions Mail { get; set; } = new();

    /// <summary>How open surveys keep their answers.</summary>
    public SurveyOptions Surveys { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Mail, new ValidationContext(Mail), results, validateAllProperties: true);
        return results.Select(r => new ValidationResult($"Mail: {r.ErrorMessage}", [.. r.MemberNames.Select(m => $"Mail.{m}")]));
    }
}

/// <summary>Baselines:Surveys.</summary>
public sealed class SurveyOptions
{
    /// <summary>
    /// The directory of the key ring that seals open surveys' answers (see SurveySeal): outside the database, on storage every
    /// replica shares and that outlives them (losing it loses the answers of the surveys open at the time). Empty: a directory
    /// under the user's local application data.
    /// </summary>
    public string KeyRingPath { get; set; } = "";

    /// <summary>How often the pulse recurrences' due occurrences are looked for (an occurrence opens at most this late).</summary>
    public TimeSpan RecurrenceCheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    public string KeyRingDirectory => KeyRingPath.Length > 0 ? KeyRingPath
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "Transformation", "baselines-survey-keys");
}

/// <summary>Where survey mail goes (Baselines:Mail): the shared mail settings, and how often reminders are checked.</summary>
public sealed class SurveyMailOptions : MailOptions
{
    public SurveyMailOptions() => From = "surveys@transformation.local";

    public TimeSpan ReminderCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}
