using System.ComponentModel.DataAnnotations;

namespace Transformation.Mail;

/// <summary>Where a service's mail goes. No credentials: the SMTP server is a relay on the service's own network.</summary>
public class MailOptions
{
    /// <summary>The SMTP server; empty: mail is queued but not sent.</summary>
    public string Host { get; set; } = "";

    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    [Required, EmailAddress]
    public string From { get; set; } = "transformation@transformation.local";

    /// <summary>The portal's public address: the links in the mail point there.</summary>
    [Required, Url]
    public string PortalAddress { get; set; } = "http://localhost:5050/";

    public Uri PortalUri => new(PortalAddress.EndsWith('/') ? PortalAddress : PortalAddress + "/");

    [Range(1, 1000)]
    public int BatchSize { get; set; } = 50;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);
}
