using Transformation.ServiceDefaults.Identity;

namespace Transformation.TestSupport;

/// <summary>A token issuer for tests, and the "Identity" settings with which a service trusts it.</summary>
public sealed class TestIdentity : IDisposable
{
    public const string Issuer = "https://identity.transformation.test";
    public const string Audience = "transformation";

    public TokenIssuer Tokens { get; } = TokenIssuer.CreateEphemeral(Issuer, Audience);

    /// <summary>Configuration entries to add to a service under test.</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("Identity:Issuer", Issuer),
        new("Identity:Audience", Audience),
        new("Identity:SigningKeys:0", Tokens.PublicKeyPem),
    ];

    /// <summary>A valid token for a person with the given roles.</summary>
    public string TokenFor(string subject, params string[] roles) => Tokens.Issue(subject, roles);

    public void Dispose() => Tokens.Dispose();
}
