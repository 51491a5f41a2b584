using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Transformation.ServiceDefaults.Identity;

/// <summary>
/// Signs tokens (RS256) as an OIDC provider would: for local use (the CLI's demo identities), for tests, and
/// for a service's own identity when it calls another service. Services trust it through its public key.
/// </summary>
public sealed class TokenIssuer : IDisposable
{
    private readonly RSA _key;
    private readonly SigningCredentials _credentials;
    private readonly JsonWebTokenHandler _handler = new();

    public TokenIssuer(RSA key, string issuer, string audience)
    {
        _key = key;
        Issuer = issuer;
        Audience = audience;
        _credentials = new SigningCredentials(new RsaSecurityKey(key), SecurityAlgorithms.RsaSha256);
    }

    public string Issuer { get; }

    public string Audience { get; }

    /// <summary>The public key in PEM form, for Identity:SigningKeys.</summary>
    public string PublicKeyPem => _key.ExportSubjectPublicKeyInfoPem();

    public string PrivateKeyPem => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>An issuer with a new key that lives as long as this object.</summary>
    public static TokenIssuer CreateEphemeral(string issuer, string audience) => new(RSA.Create(2048), issuer, audience);

    public static TokenIssuer FromPrivateKeyPem(string pem, string issuer, string audience)
    {
        var key = RSA.Create();
        key.ImportFromPem(pem);
        return new TokenIssuer(key, issuer, audience);
    }

    /// <summary>A signed token for <paramref name="subject"/> with the given roles, valid from now for <paramref name="lifetime"/>.</summary>
    public string Issue(string subject, IEnumerable<string> roles, TimeSpan? lifetime = null, DateTime? notBefore = null,
        string? issuer = null, string? audience = null)
    {
        var from = notBefore ?? DateTime.UtcNow;
        var claims = new List<Claim> { new(IdentityExtensions.SubjectClaim, subject) };
        claims.AddRange(roles.Select(role => new Claim(IdentityExtensions.RoleClaim, role)));
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience ?? Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = DateTime.UtcNow,
            NotBefore = from,
            Expires = from + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = _credentials,
        });
    }

    public void Dispose() => _key.Dispose();
}
