using System.ComponentModel.DataAnnotations;

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

/// <summary>Where survey mail goes (Baselines:Mail). No credentials: the SMTP server is a relay on the service's own network.</summary>
public sealed class SurveyMailOptions
{
    /// <summary>The SMTP server; empty: mail is queued but not sent.</summary>
    public string Host { get; set; } = "";

    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    [Required, EmailAddress]
    public string From { get; set; } = "surveys@transformation.local";

    /// <summary>The portal's public address: the links in the mail point there.</summary>
    [Required, Url]
    public string PortalAddress { get; set; } = "http://localhost:5050/";

    public Uri PortalUri => new(PortalAddress.EndsWith('/') ? PortalAddress : PortalAddress + "/");

    [Range(1, 1000)]
    public int BatchSize { get; set; } = 50;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan ReminderCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}
