using System.Net;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using IPNetwork = System.Net.IPNetwork;
using Transformation.Portal.Web.Hr;
using Transformation.Portal.Web.Services;
using Transformation.Portal.Web.SignIn;
using Transformation.ServiceDefaults;

namespace Transformation.Portal.Web;

public static class Extensions
{
    /// <summary>Everything the portal needs: defaults (HTTP/1.1 port only), sign-in, Blazor with interactive server rendering, the service clients.</summary>
    public static WebApplicationBuilder AddPortal(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults(grpc: false);
        var portal = builder.AddValidatedOptions<PortalOptions>(PortalOptions.Section);
        var oidc = builder.AddValidatedOptions<OidcOptions>(OidcOptions.Section);
        builder.AddValidatedOptions<ServiceAddresses>(ServiceAddresses.Section);
        if (portal.DevelopmentSigningKey.Length > 0)
        {
            DemoSignIn.EnsureAllowed(builder.Environment, builder.Configuration);
        }

        builder.AddPortalSignIn(portal, oidc);
        services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            if (portal.TrustedProxies.Count > 0)
            {
                // The configured proxies replace the default (loopback).
                forwarded.KnownIPNetworks.Clear();
                forwarded.KnownProxies.Clear();
                foreach (var proxy in portal.TrustedProxies)
                {
                    forwarded.KnownIPNetworks.Add(IPAddress.TryParse(proxy, out var address) ? new IPNetwork(address, address.GetAddressBytes().Length * 8) : IPNetwork.Parse(proxy));
                }
            }
        });
        services.Configure<AntiforgeryOptions>(antiforgery => antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest);

        var dataProtection = services.AddDataProtection().SetApplicationName("transformation-portal");
        if (portal.DataProtectionKeysPath.Length > 0)
        {
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(portal.DataProtectionKeysPath));
        }

        // A field's longest text (TextLimits.AnyText characters, up to 6 bytes each once escaped) arrives in one message:
        // SignalR's default of 32 KB dropped the circuit for long texts.
        services.AddRazorComponents().AddInteractiveServerComponents().AddHubOptions(hub => hub.MaximumReceiveMessageSize = 256 * 1024);
        services.AddCascadingAuthenticationState();
        services.AddHttpContextAccessor();
        services.AddSingleton(TimeProvider.System);

        services.AddScoped<SignedInPerson>();
        services.AddScoped<CircuitHandler, TokenCircuitHandler>();
        services.AddServiceClients();
        services.AddScoped<Organisation>();
        services.AddScoped<InboxUpdates>();
        services.AddScoped<AuditTrail>();
        return builder;
    }

    public static WebApplication MapPortal(this WebApplication app)
    {
        // First: everything after it sees the scheme the person used (HTTPS at the proxy makes the cookies Secure).
        app.UseForwardedHeaders();
        app.Use(SecurityHeaders);
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapDefaultEndpoints();
        app.MapStaticAssets();
        app.MapSignIn();
        app.MapResultsDownload();
        // Its own frame-ancestors policy would be a second Content-Security-Policy header: ours says it (and more).
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(server => server.ContentSecurityFrameAncestorsPolicy = null);
        return app;
    }

    /// <summary>
    /// No page address leaves the portal in a Referer (same-origin). Scripts only from the portal itself (blazor.web.js; interactive server rendering needs no eval and no inline
    /// script; App.razor has no import map, which would be one), its WebSocket to itself, no framing; inline styles stay
    /// allowed (the pages' style attributes and charts).
    /// </summary>
    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    private static Task SecurityHeaders(HttpContext http, RequestDelegate next)
    {
        var headers = http.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return next(http);
    }
}
