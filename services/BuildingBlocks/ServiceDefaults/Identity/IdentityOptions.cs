using System.ComponentModel.DataAnnotations;

namespace Transformation.ServiceDefaults.Identity;

/// <summary>
/// The "Identity" section: how bearer tokens are validated. Either an OIDC authority (its metadata gives the
/// signing keys) or configured RSA public keys in PEM form (the local development issuer's).
/// </summary>
public sealed class IdentityOptions : IValidatableObject
{
    public const string Section = "Identity";

    [Required]
    public string Issuer { get; set; } = "";

    [Required]
    public string Audience { get; set; } = "";

    /// <summary>An OIDC authority; its /.well-known/openid-configuration names the signing keys.</summary>
    public Uri? Authority { get; set; }

    /// <summary>RSA public keys (PEM) whose signatures are accepted.</summary>
    public IList<string> SigningKeys { get; } = [];

    /// <summary>Tolerance for clocks that differ between issuer and service.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Authority is null && SigningKeys.Count == 0)
        {
            yield return new ValidationResult("Identity:Authority or Identity:SigningKeys is required to validate tokens.", [nameof(Authority), nameof(SigningKeys)]);
        }
    }
}
