using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Transformation.TestSupport;

namespace Transformation.Portal.FunctionalTests;

/// <summary>
/// The smallest OpenID Connect provider the portal's authorization code flow needs: discovery, keys, an authorize endpoint
/// that signs one configured person in at once, the token endpoint (an ID token for the portal; as access token, a token
/// the services trust, as the organisation's provider would issue for them) and userinfo.
/// </summary>
public sealed class FakeOpenIdProvider : IAsyncDisposable
{
    public const string ClientId = "portal";
    public const string ClientSecret = "portal-secret";

    private static readonly string[] Code = ["code"];
    private static readonly string[] Public = ["public"];
    private static readonly string[] Rs256 = ["RS256"];

    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create();
    private readonly ConcurrentDictionary<string, string> _nonces = new(StringComparer.Ordinal);

    private FakeOpenIdProvider(WebApplication app, Uri authority)
    {
        _app = app;
        Authority = authority;
    }

    public Uri Authority { get; }

    /// <summary>Who the provider signs in, and with which roles.</summary>
    public (string Subject, string Name, string[] Roles) Person { get; set; } = ("", "", []);

    /// <summary>How many codes the token endpoint exchanged: the portal really went through the provider.</summary>
    public int TokensIssued { get; private set; }

    public static async Task<FakeOpenIdProvider> StartAsync(TestIdentity services, CancellationToken cancellationToken)
    {
        var port = Ports.Free();
        var authority = new Uri($"http://127.0.0.1:{port}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(authority.ToString());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var provider = new FakeOpenIdProvider(builder.Build(), authority);
        provider.Map(services);
        await provider._app.StartAsync(cancellationToken);
        return provider;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }

    private void Map(TestIdentity services)
    {
        var issuer = Authority.ToString().TrimEnd('/');
        var signing = new SigningCredentials(new RsaSecurityKey(_key) { KeyId = "fake" }, SecurityAlgorithms.RsaSha256);
        _app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["issuer"] = issuer,
            ["authorization_endpoint"] = issuer + "/authorize",
            ["token_endpoint"] = issuer + "/token",
            ["userinfo_endpoint"] = issuer + "/userinfo",
            ["jwks_uri"] = issuer + "/jwks",
            ["response_types_supported"] = Code,
            ["subject_types_supported"] = Public,
            ["id_token_signing_alg_values_supported"] = Rs256,
        }));
        _app.MapGet("/jwks", () =>
        {
            var parameters = _key.ExportParameters(includePrivateParameters: false);
            return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = "fake", n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) } } });
        });
        _app.MapGet("/authorize", (HttpRequest request) =>
        {
            var query = request.Query;
            if (!string.Equals(query["client_id"], ClientId, StringComparison.Ordinal) || !string.Equals(query["response_type"], "code", StringComparison.Ordinal))
            {
                return Results.BadRequest("unknown client or response type");
            }

            var code = Guid.NewGuid().ToString("N");
            _nonces[code] = query["nonce"].ToString();
            return Results.Redirect($"{query["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(query["state"].ToString())}");
        });
        _app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            if (!string.Equals(form["client_secret"], ClientSecret, StringComparison.Ordinal) || !_nonces.TryRemove(form["code"].ToString(), out var nonce))
            {
                return Results.BadRequest(new { error = "invalid_grant" });
            }

            TokensIssued++;
            var now = DateTime.UtcNow;
            List<Claim> claims = [new("sub", Person.Subject), new("name", Person.Name), new("nonce", nonce), .. Person.Roles.Select(r => new Claim("role", r))];
            var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuer, Audience = ClientId, Subject = new ClaimsIdentity(claims), IssuedAt = now, NotBefore = now, Expires = now.AddHours(1),
                SigningCredentials = signing,
            });
            return Results.Json(new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["access_token"] = services.TokenFor(Person.Subject, Person.Roles),
                ["id_token"] = idToken,
                ["token_type"] = "Bearer",
                ["expires_in"] = 3600.ToString(CultureInfo.InvariantCulture),
            });
        });
        _app.MapGet("/userinfo", () => Results.Json(new { sub = Person.Subject, name = Person.Name, role = Person.Roles }));
    }
}
