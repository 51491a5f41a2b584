using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Grains;
using Transformation.Initiatives.Api.Grpc;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.Initiatives.Api.IntegrationEvents.Handlers;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Initiatives.Api;

public static class Extensions
{
    private static readonly RpcAccess Runners = RpcAccess.Roles(Roles.ChangeManager, Roles.Hr);
    // Those accountable for an observation record it: hr, change managers, executives and systems. Employees thank colleagues
    // through Incentives' GiveRecognition (peer recognition has one road, with its allowance, cooldown and caps); a PEER
    // observation is a colleague's nomination that one of the recorders vouches for.
    private static readonly RpcAccess Recorders = RpcAccess.Roles(Roles.Hr, Roles.ChangeManager, Roles.Executive, Roles.Service);

    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        ["ProposeInitiative"] = Runners,
        // Only the named executive (checked in the model against the token's subject).
        ["SponsorInitiative"] = RpcAccess.Roles(Roles.Executive),
        ["ActivateInitiative"] = RpcAccess.Roles(Roles.ChangeManager),
        ["CompleteInitiative"] = RpcAccess.Roles(Roles.ChangeManager),
        ["CancelInitiative"] = RpcAccess.Roles(Roles.ChangeManager, Roles.Executive),
        // Retired (always FAILED_PRECONDITION: survey scores come from Baselines); still declared, as every RPC is.
        ["SetSurveyScore"] = RpcAccess.Roles(Roles.ChangeManager),
        // Only the initiative's own change manager (checked in the handler and the model).
        ["UpdateInitiative"] = RpcAccess.Roles(Roles.ChangeManager),
        ["GetInitiative"] = RpcAccess.SignedIn,
        // Everyone, narrowed in the handler (InitiativeAccess): employees list only the initiatives reaching their unit.
        ["ListInitiatives"] = RpcAccess.SignedIn,
        ["RecordObservation"] = Recorders,
        ["RecordObservations"] = Recorders,
        ["ListObservations"] = RpcAccess.Roles(Roles.Hr, Roles.ChangeManager, Roles.Executive),
        // Every person may report a concern (the one road by which an employee records an observation: a call-out, never rewarded).
        ["ReportConcern"] = RpcAccess.Roles(Roles.Hr, Roles.ChangeManager, Roles.Executive, Roles.Employee),
        ["DraftSuccessStory"] = RpcAccess.Roles(Roles.ChangeManager),
        ["SubmitSuccessStory"] = RpcAccess.Roles(Roles.ChangeManager),
        ["PublishSuccessStory"] = RpcAccess.Roles(Roles.Executive, Roles.Hr),
        ["GetSuccessStory"] = RpcAccess.SignedIn,
        ["ListSuccessStories"] = RpcAccess.SignedIn,
        ["ReactToSuccessStory"] = RpcAccess.SignedIn,
        ["ListAuditEntries"] = RpcAccess.Roles(Roles.Hr, Roles.Executive),
    };

    public static WebApplicationBuilder AddInitiativesService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();

        // The service's tables exist before the event bus's consumers start (hosted services start in registration order).
        services.AddInitiativeGrains();
        builder.AddEventBus();
        // The silo starts before the progress pump that calls its grains (and stops after it).
        builder.AddGrains(provider => provider.GetRequiredService<InitiativesDatabase>().DataSource);

        services.AddSingleton<ProgressPump>();
        services.AddHostedService(provider => provider.GetRequiredService<ProgressPump>());
        services.AddSingleton<ObservationWriter>();
        services.AddSingleton<InitiativesService>();

        services.AddSubscription<BehaviourDefined, BehaviourDefinedHandler>();
        services.AddSubscription<BehaviourRevised, BehaviourRevisedHandler>();
        services.AddBatchSubscription<RewardGranted, RewardGrantedHandler>();
        services.AddSubscription<RewardRevoked, RewardRevokedHandler>();
        services.AddSubscription<OrgUnitChanged, OrgUnitChangedHandler>();
        services.AddSubscription<EmployeeJoined, EmployeeJoinedHandler>();
        services.AddSubscription<EmployeeMoved, EmployeeMovedHandler>();
        services.AddSubscription<EmployeeUpdated, EmployeeUpdatedHandler>();
        services.AddSubscription<EmployeeLeft, EmployeeLeftHandler>();
        services.AddSubscription<EmployeeErased, EmployeeErasedHandler>();
        services.AddSubscription<ScoresPublished, ScoresPublishedHandler>();
        return builder;
    }

    /// <summary>
    /// What the initiative grains need in their silo's services: the service's database (its tables created at start, a
    /// hosted service to register before whatever reads them), the store that writes a grain's state with its events and
    /// audit row, and the clock. The outbox comes with the event bus. The service and the grain tests' clusters both use it.
    /// </summary>
    public static IServiceCollection AddInitiativeGrains(this IServiceCollection services)
    {
        services.AddSingleton<InitiativesDatabase>();
        services.AddHostedService<InitiativesSchema>();
        services.AddSingleton<InitiativeStore>();
        services.AddSingleton(TimeProvider.System);
        return services;
    }

    public static WebApplication MapInitiativesService(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapDefaultEndpoints();
        app.MapGrpcService<InitiativesService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        return app;
    }
}
