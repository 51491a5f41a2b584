using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.DataProtection;
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
        builder.AddPortalSignIn(portal, oidc);

        var dataProtection = services.AddDataProtection().SetApplicationName("transformation-portal");
        if (portal.DataProtectionKeysPath.Length > 0)
        {
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(portal.DataProtectionKeysPath));
        }

        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddHttpContextAccessor();
        services.AddSingleton(TimeProvider.System);

        services.AddSingleton<ServiceChannels>();
        services.AddScoped<SignedInPerson>();
        services.AddScoped<CircuitHandler, TokenCircuitHandler>();
        services.AddScoped<DirectoryClient>();
        services.AddScoped<IncentivesClient>();
        services.AddScoped<BaselinesClient>();
        services.AddScoped<InitiativesClient>();
        services.AddScoped<EndStateClient>();
        services.AddScoped<Organisation>();
        services.AddScoped<AuditTrail>();
        return builder;
    }

    public static WebApplication MapPortal(this WebApplication app)
    {
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
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
