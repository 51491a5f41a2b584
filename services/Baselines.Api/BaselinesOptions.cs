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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Mail, new ValidationContext(Mail), results, validateAllProperties: true);
        return results.Select(r => new ValidationResult($"Mail: {r.ErrorMessage}", [.. r.MemberNames.Select(m => $"Mail.{m}")]));
    }
}

/// <summary>Where survey mail goes (Baselines:Mail): the shared mail settings, and how often reminders are checked.</summary>
public sealed class SurveyMailOptions : MailOptions
{
    public SurveyMailOptions() => From = "surveys@transformation.local";

    public TimeSpan ReminderCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}
