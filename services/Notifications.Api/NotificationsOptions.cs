using System.ComponentModel.DataAnnotations;
using Transformation.EventBus;
using Transformation.Mail;

namespace Transformation.Notifications.Api;

/// <summary>The "Notifications" section.</summary>
public sealed class NotificationsOptions : IValidatableObject
{
    public const string Section = "Notifications";

    /// <summary>Attempts of one delivery (counted again from a replay) before it becomes a dead letter.</summary>
    [Range(1, 50)]
    public int WebhookMaxAttempts { get; set; } = 8;

    /// <summary>The wait after the first failed attempt; it doubles with each further one (with jitter), up to <see cref="WebhookRetryMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan WebhookRetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan WebhookRetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long an endpoint may take to answer before the attempt counts as failed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the dispatcher looks for due deliveries when it found none.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan WebhookPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries POSTed at the same time.</summary>
    [Range(1, 64)]
    public int WebhookConcurrency { get; set; } = 4;

    /// <summary>The inbox's mail (Notifications:Mail).</summary>
    public NotificationMailOptions Mail { get; set; } = new();

    internal RetryPolicy WebhookRetry => new(WebhookMaxAttempts, WebhookRetryBaseDelay, WebhookRetryMaxDelay);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Mail, new ValidationContext(Mail), results, validateAllProperties: true);
        return results.Select(r => new ValidationResult($"Mail: {r.ErrorMessage}", [.. r.MemberNames.Select(m => $"Mail.{m}")]));
    }
}

/// <summary>Where the inbox's mail goes, and when the daily digest is sent.</summary>
public sealed class NotificationMailOptions : MailOptions
{
    public NotificationMailOptions() => From = "notifications@transformation.local";

    /// <summary>The time of day (UTC) the daily digest goes out.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "23:59:59")]
    public TimeSpan DigestTime { get; set; } = TimeSpan.FromHours(7);

    /// <summary>How often the digest scheduler looks whether today's digest is due.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DigestCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}
