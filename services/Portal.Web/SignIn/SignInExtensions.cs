using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.Web.SignIn;

/// <summary>
/// Sessions are cookies (HTTP-only, encrypted by data protection); the bearer token for the services lives in the
/// cookie's authentication ticket, server-side, never in script. People sign in with the organisation's OpenID Connect
/// provider (authorization code flow, when Oidc:Authority is set) or, locally, as a demo identity (when
/// Portal:DevelopmentSigningKey is set).
/// </summary>
public static class SignInExtensions
{
    public const string SignInPath = "/signin";

    public static WebApplicationBuilder AddPortalSignIn(this WebApplicationBuilder builder, PortalOptions portal, OidcOptions oidc)
    {
        var authentication = builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(cookie =>
            {
                cookie.Cookie.Name = "transformation-portal";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Lax;
                cookie.LoginPath = SignInPath;
                cookie.AccessDeniedPath = "/denied";
                cookie.ExpireTimeSpan = portal.SessionLifetime;
                cookie.SlidingExpiration = false;
            });
        if (oidc.Enabled)
        {
            authentication.AddOpenIdConnect(openId =>
            {
                openId.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                openId.Authority = oidc.Authority;
                openId.RequireHttpsMetadata = oidc.Authority.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
                openId.ClientId = oidc.ClientId;
                openId.ClientSecret = oidc.ClientSecret.Length > 0 ? oidc.ClientSecret : null;
                openId.ResponseType = OpenIdConnectResponseType.Code;
                openId.ResponseMode = OpenIdConnectResponseMode.Query;
                openId.UsePkce = true;
                openId.SaveTokens = true;
                openId.UseTokenLifetime = true;
                openId.GetClaimsFromUserInfoEndpoint = true;
                openId.MapInboundClaims = false;
                openId.CallbackPath = "/signin/oidc/callback";
                openId.SignedOutCallbackPath = "/signout/oidc/callback";
                openId.Scope.Clear();
                openId.Scope.Add("openid");
                openId.Scope.Add("profile");
                foreach (var scope in oidc.Scopes)
                {
                    openId.Scope.Add(scope);
                }

                openId.ClaimActions.MapJsonKey(IdentityExtensions.RoleClaim, IdentityExtensions.RoleClaim);
                if (!openId.RequireHttpsMetadata)
                {
                    // A provider on plain HTTP (a local one): the correlation and nonce cookies cannot be Secure there.
                    openId.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                    openId.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                    openId.CorrelationCookie.SameSite = SameSiteMode.Lax;
                    openId.NonceCookie.SameSite = SameSiteMode.Lax;
                }

                openId.TokenValidationParameters = new TokenValidationParameters { NameClaimType = "name", RoleClaimType = IdentityExtensions.RoleClaim };

                // Providers repeat claims in the ID token and at userinfo (roles, mostly): each is kept once.
                openId.Events.OnTicketReceived = context =>
                {
                    if (context.Principal?.Identity is ClaimsIdentity identity)
                    {
                        foreach (var repeated in identity.Claims.GroupBy(c => (c.Type, c.Value)).SelectMany(g => g.Skip(1)).ToList())
                        {
                            identity.RemoveClaim(repeated);
                        }
                    }

                    return Task.CompletedTask;
                };
            });
        }

        builder.Services.AddAuthorization();
        builder.Services.AddSingleton<DemoSignIn>();
        return builder;
    }

    public static WebApplication MapSignIn(this WebApplication app)
    {
        var demo = app.Services.GetRequiredService<DemoSignIn>();
        app.MapPost(SignInPath + "/demo", async (HttpContext http, IAntiforgery antiforgery) =>
        {
            if (!demo.Enabled)
            {
                return Results.NotFound();
            }

            if (!await antiforgery.IsRequestValidAsync(http))
            {
                return FormNotFromThisPortal();
            }

            // The form is read by hand: this runtime's minimal-API binder refuses string parameters from forms.
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var employee = form["employee"].ToString().Trim();
            var returnUrl = form["returnUrl"].ToString();
            if (InvalidReturnUrl(returnUrl) is { } invalid)
            {
                return invalid;
            }

            var roles = form["roles"].Where(r => !string.IsNullOrEmpty(r)).Select(r => r!).ToList();
            var problem = employee.Length == 0 ? "Choose a person." : await demo.SignInAsync(http, employee, roles);
            return problem is null
                ? Results.LocalRedirect(LocalOrHome(returnUrl))
                : Results.LocalRedirect($"{SignInPath}?problem={Uri.EscapeDataString(problem)}&returnUrl={Uri.EscapeDataString(LocalOrHome(returnUrl))}");
        }).AllowAnonymous();

        if (app.Services.GetRequiredService<IOptions<OidcOptions>>().Value.Enabled)
        {
            app.MapGet(SignInPath + "/oidc", (string? returnUrl) => InvalidReturnUrl(returnUrl) ?? Results.Challenge(
                new AuthenticationProperties { RedirectUri = LocalOrHome(returnUrl) }, [OpenIdConnectDefaults.AuthenticationScheme])).AllowAnonymous();
        }

        app.MapPost("/signout", async (HttpContext http, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                return FormNotFromThisPortal();
            }

            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect(SignInPath);
        });
        return app;
    }

    /// <summary>Only addresses of this site: anything else (//host, http://…, control characters) goes home.</summary>
    public static string LocalOrHome(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && !url.Any(char.IsControl) ? url : "/";

    /// <summary>A return address with a control character (a tab, CR or LF) is no address at all: 400 naming the field.</summary>
    private static IResult? InvalidReturnUrl(string? returnUrl) => returnUrl is not null && returnUrl.Any(char.IsControl)
        ? Results.ValidationProblem(new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["returnUrl"] = ["The return address contains a control character (a tab or a line break)."],
        })
        : null;

    /// <summary>A form without this portal's antiforgery token (expired, or sent by another site): 400, nothing done.</summary>
    private static IResult FormNotFromThisPortal() => Results.Problem(statusCode: StatusCodes.Status400BadRequest,
        title: "The form did not come from this portal, or it expired.", detail: "Reload the page and send the form again.");
}
