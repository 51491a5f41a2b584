using System.ComponentModel.DataAnnotations;

namespace Transformation.EndState.Api;

/// <summary>The "EndState" section.</summary>
public sealed class EndStateOptions
{
    public const string Section = "EndState";

    /// <summary>The Baselines service's gRPC address (h2c), e.g. http://127.0.0.1:5080.</summary>
    [Required]
    public Uri? BaselinesAddress { get; set; }

    /// <summary>
    /// The RSA private key (PEM, PKCS#8 or PKCS#1) with which this service signs its own short-lived token (subject
    /// "endstate", role "service") for calls to Baselines. Its public key must be one of the callee's Identity:SigningKeys;
    /// the token's issuer and audience are this service's Identity:Issuer and Identity:Audience.
    /// </summary>
    [Required]
    public string ServiceTokenKey { get; set; } = "";

    /// <summary>How long a read from Baselines may take before it is DEADLINE_EXCEEDED.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan BaselinesTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The subject of the service token.</summary>
    [Required]
    public string ServiceSubject { get; set; } = "endstate";
}
