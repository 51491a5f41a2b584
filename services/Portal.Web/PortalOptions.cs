using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Transformation.Portal.Web;

/// <summary>The "Portal" section.</summary>
public sealed class PortalOptions : IValidatableObject
{
    public const string Section = "Portal";

    /// <summary>
    /// The local development issuer's RSA private key (PEM). When set, the sign-in page lets a person sign in as a demo
    /// identity (a person from the Directory, with roles chosen there) and the portal signs their token with it; the
    /// services must trust its public key (Identity:SigningKeys). The portal refuses to start with it outside a
    /// Development run bound to loopback (<see cref="SignIn.DemoSignIn.EnsureAllowed"/>).
    /// </summary>
    public string DevelopmentSigningKey { get; set; } = "";

    /// <summary>How long a sign-in lasts (the cookie and, for demo identities, the token).</summary>
    [Range(typeof(TimeSpan), "00:05:00", "1.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>
    /// A folder every replica shares (a mounted volume) for the keys that encrypt the sign-in cookie and the circuit's state.
    /// Empty: the default, this machine's own keys (a restart on another machine, or a second replica, signs people out).
    /// </summary>
    public string DataProtectionKeysPath { get; set; } = "";

    /// <summary>How long the portal waits for a service's answer before saying it is not answering.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The reverse proxies (addresses, or networks such as 10.0.0.0/8) whose X-Forwarded-Proto and X-Forwarded-For the
    /// portal believes, so that a portal behind a TLS-terminating proxy knows it is reached over HTTPS (and marks its
    /// cookies Secure). Empty: loopback only (a proxy on the same host or in the same pod); nobody else can claim HTTPS.
    /// </summary>
    public IList<string> TrustedProxies { get; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var proxy in TrustedProxies.Where(p => !IPNetwork.TryParse(p, out _) && !IPAddress.TryParse(p, out _)))
        {
            yield return new ValidationResult($"Portal:TrustedProxies: '{proxy}' is neither an IP address nor a network such as 10.0.0.0/8.", [nameof(TrustedProxies)]);
        }
    }
}

/// <summary>The "Services" section: each service's gRPC address (h2c).</summary>
public sealed class ServiceAddresses
{
    public const string Section = "Services";

    [Required]
    public Uri? Directory { get; set; }

    [Required]
    public Uri? Incentives { get; set; }

    [Required]
    public Uri? Baselines { get; set; }

    [Required]
    public Uri? Initiatives { get; set; }

    [Required]
    public Uri? EndState { get; set; }

    [Required]
    public Uri? Notifications { get; set; }
}

/// <summary>The "Oidc" section: when Authority is set, people sign in with the organisation's OpenID Connect provider (authorization code flow).</summary>
public sealed class OidcOptions : IValidatableObject
{
    public const string Section = "Oidc";

    /// <summary>The provider's issuer address; its /.well-known/openid-configuration names the endpoints and keys. Empty: OIDC is off.</summary>
    public string Authority { get; set; } = "";

    public string ClientId { get; set; } = "";

    public string ClientSecret { get; set; } = "";

    /// <summary>Scopes asked for besides openid and profile (for example the services' API scope).</summary>
    public IList<string> Scopes { get; } = [];

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Enabled && !Uri.TryCreate(Authority, UriKind.Absolute, out _))
        {
            yield return new ValidationResult("Oidc:Authority must be an absolute address such as https://login.example.com/realm.", [nameof(Authority)]);
        }

        if (Enabled && string.IsNullOrWhiteSpace(ClientId))
        {
            yield return new ValidationResult("Oidc:ClientId is required when Oidc:Authority is set.", [nameof(ClientId)]);
        }
    }
}
