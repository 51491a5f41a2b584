using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using Transformation.EndState.Api.Infrastructure;
using Transformation.EndState.Api.IntegrationEvents.Handlers;
using Transformation.EndState.Api.Model;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
// Ours, not the generated EndStateService of the contracts (its clients).
using EndStateService = Transformation.EndState.Api.Grpc.EndStateService;

namespace Transformation.EndState.Api;

public static class Extensions
{
    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        ["DraftEndState"] = RpcAccess.Roles(Access.Authors),
        ["ProposeEndState"] = RpcAccess.Roles(Access.Authors),
        // Only executives; that the caller is a named sponsor is checked in the workflow.
        ["EndorseEndState"] = RpcAccess.Roles(Access.Sponsors),
        ["DeclineEndState"] = RpcAccess.Roles(Access.Sponsors),
        ["GetEndState"] = RpcAccess.Roles(Access.Readers),
        // Everyone sees the vision and targets in force (endorsed versions only).
        ["GetEndStateInForce"] = RpcAccess.SignedIn,
        ["GetEndStateHistory"] = RpcAccess.Roles(Access.Readers),
        ["ListEndStates"] = RpcAccess.Roles(Access.Readers),
        ["ListAuditEntries"] = RpcAccess.Roles(Access.Auditors),
        ["GetGap"] = RpcAccess.Roles(Access.Readers),
    };

    public static WebApplicationBuilder AddEndStateService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();
        builder.AddValidatedOptions<EndStateOptions>(EndStateOptions.Section);

        // The tables exist before the event bus's consumers start (hosted services start in registration order).
        services.AddSingleton<EndStateDatabase>();
        services.AddHostedService<EndStateSchema>();
        builder.AddEventBus();

        services.AddSingleton(TimeProvider.System);
        AddBaselinesClient(services);
        services.AddSingleton<EndStateService>();
        services.AddSubscription<AssessmentClosed, AssessmentClosedHandler>();
        return builder;
    }

    /// <summary>
    /// Baselines' generated client over a pooled HTTP/2 channel (h2c inside the deployment), every call carrying this
    /// service's own identity: role "service", a short-lived token signed with EndState:ServiceTokenKey, issuer and audience
    /// from the Identity section.
    /// </summary>
    private static void AddBaselinesClient(IServiceCollection services)
    {
        services.AddSingleton(provider =>
        {
            var identity = provider.GetRequiredService<IOptions<IdentityOptions>>().Value;
            return TokenIssuer.FromPrivateKeyPem(provider.GetRequiredService<IOptions<EndStateOptions>>().Value.ServiceTokenKey, identity.Issuer, identity.Audience);
        });
        services.AddGrpcClient<BaselineService.BaselineServiceClient>((provider, o) => o.Address = provider.GetRequiredService<IOptions<EndStateOptions>>().Value.BaselinesAddress)
            .ConfigureChannel(channel => channel.UnsafeUseInsecureChannelCallCredentials = true)
            .AddCallCredentials((_, metadata, provider) =>
            {
                var subject = provider.GetRequiredService<IOptions<EndStateOptions>>().Value.ServiceSubject;
                metadata.Add("authorization", "Bearer " + provider.GetRequiredService<TokenIssuer>().Issue(subject, [Roles.Service], TimeSpan.FromMinutes(5)));
                return Task.CompletedTask;
            });
        services.AddSingleton<BaselinesClient>();
    }

    public static WebApplication MapEndStateService(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapDefaultEndpoints();
        app.MapGrpcService<EndStateService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        return app;
    }
}
