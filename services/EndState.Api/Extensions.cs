using Transformation.Baselines.V1;
using Transformation.EndState.Api.Infrastructure;
using Transformation.EndState.Api.IntegrationEvents.Handlers;
using Transformation.EndState.Api.Model;
using Transformation.EndState.V1;
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
        services.AddSingleton<BaselinesClient>();
        services.AddSingleton<EndStateService>();
        services.AddSubscription<AssessmentClosed, AssessmentClosedHandler>();
        return builder;
    }

    public static WebApplication MapEndStateService(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseGrpcHosting();
        app.MapDefaultEndpoints();
        app.MapGrpcService<EndStateService>(EndstateReflection.Descriptor.Services[0], AccessMap);
        return app;
    }
}
