using System.ComponentModel.DataAnnotations;
using Transformation.EventBus;

namespace Transformation.Notifications.Api;

/// <summary>The "Notifications" section.</summary>
public sealed class NotificationsOptions
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

    internal RetryPolicy WebhookRetry => new(WebhookMaxAttempts, WebhookRetryBaseDelay, WebhookRetryMaxDelay);
}
