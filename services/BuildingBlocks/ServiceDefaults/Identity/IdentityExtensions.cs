using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Transformation.ServiceDefaults.Identity;

public static class IdentityExtensions
{
    public const string RoleClaim = "role";
    public const string SubjectClaim = "sub";

    /// <summary>
    /// Validates bearer tokens as an OIDC provider issues them: issuer, audience, signature, lifetime
    /// (from the "Identity" section). Claims keep their JWT names ("sub", "role").
    /// </summary>
    public static IHostApplicationBuilder AddServiceIdentity(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<IdentityOptions>(IdentityOptions.Section);
        builder.Services.AddAuthorization();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<IdentityOptions>>((jwt, identity) => Configure(jwt, identity.Value));
        return builder;
    }

    /// <summary>The caller of an authenticated request; null when the request carried no valid token.</summary>
    public static Caller? ToCaller(this ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var subject = user.FindFirst(SubjectClaim)?.Value;
        if (user.Identity?.IsAuthenticated != true || string.IsNullOrEmpty(subject))
        {
            return null;
        }

        return new Caller(subject, user.FindAll(RoleClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal));
    }

    private static void Configure(JwtBearerOptions jwt, IdentityOptions identity)
    {
        jwt.MapInboundClaims = false;
        jwt.RequireHttpsMetadata = string.Equals(identity.Authority?.Scheme, Uri.UriSchemeHttps, StringComparison.Ordinal);
        if (identity.Authority is not null)
        {
            jwt.Authority = identity.Authority.ToString();
        }

        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = identity.Issuer,
            ValidAudience = identity.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            ClockSkew = identity.ClockSkew,
            NameClaimType = SubjectClaim,
            RoleClaimType = RoleClaim,
            IssuerSigningKeys = identity.SigningKeys.Select(ReadPublicKey).ToList(),
        };
    }

    private static RsaSecurityKey ReadPublicKey(string pem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return new RsaSecurityKey(rsa);
    }
}
