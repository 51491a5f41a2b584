using Microsoft.Extensions.DependencyInjection.Extensions;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Grains;
using Transformation.GrpcHosting;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.IntegrationEvents.Handlers;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
// Ours, not the generated IncentivesService of the contracts (its clients).
using IncentivesService = Transformation.Incentives.Api.Grpc.IncentivesService;

namespace Transformation.Incentives.Api;

public static class Extensions
{
    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        // The catalogue: hr defines it, everyone may read what is wanted and why.
        ["DefineBehaviour"] = RpcAccess.Roles(Roles.Hr),
        ["ReviseBehaviour"] = RpcAccess.Roles(Roles.Hr),
        ["GetBehaviour"] = RpcAccess.SignedIn,
        ["ListBehaviours"] = RpcAccess.SignedIn,
        ["ListBehaviourVersions"] = RpcAccess.SignedIn,

        // Rules and budgets: hr changes them; executives follow budgets.
        ["UpdateIncentiveRules"] = RpcAccess.Roles(Roles.Hr),
        ["GetIncentiveRules"] = RpcAccess.SignedIn,
        ["SetBudget"] = RpcAccess.Roles(Roles.Hr),
        ["GetBudget"] = RpcAccess.Roles(Roles.Hr, Roles.Executive),
        ["ListAuditEntries"] = RpcAccess.Roles(Roles.Hr, Roles.Executive),

        // Recognition: feeds are filtered per caller in the handlers (own, as manager, as hr).
        ["GiveRecognition"] = RpcAccess.Roles(Roles.Employee),
        ["GetEmployeeFeed"] = RpcAccess.SignedIn,
        ["GetPublicFeed"] = RpcAccess.SignedIn,
        ["ListReviewQueue"] = RpcAccess.SignedIn,
        ["ReviewReward"] = RpcAccess.SignedIn,
        ["RevokeReward"] = RpcAccess.Roles(Roles.Hr),
        ["WatchEmployeeFeed"] = RpcAccess.SignedIn,

        // Who is recognised: for the people who steer recognition, never per person except on the (opt-in) leaderboard.
        ["GetRecognitionEquity"] = RpcAccess.Roles(Roles.Hr, Roles.Executive),
        ["GetLeaderboard"] = RpcAccess.SignedIn,
        // Anyone signed in opts themselves out of (or back into) leaderboards: the handler uses the caller's own subject.
        ["SetLeaderboardPreference"] = RpcAccess.SignedIn,
        ["GetLeaderboardPreference"] = RpcAccess.SignedIn,

        // Call-outs: in aggregate to leaders, one by one to hr only.
        ["GetCallOutReport"] = RpcAccess.Roles(Model.Access.CallOutReportRoles),
        ["ListCallOuts"] = RpcAccess.Roles(Roles.Hr),

        // The reward catalogue: hr defines it and exports what was fulfilled; employees spend their own points (the handler
        // redeems for the caller only); balances and reviews are filtered per caller in the handlers (own, as manager, as hr).
        ["DefineCatalogueReward"] = RpcAccess.Roles(Roles.Hr),
        ["ReviseCatalogueReward"] = RpcAccess.Roles(Roles.Hr),
        ["ListCatalogueRewards"] = RpcAccess.SignedIn,
        ["GetPointsBalance"] = RpcAccess.SignedIn,
        ["RedeemPoints"] = RpcAccess.Roles(Roles.Employee),
        ["ListRedemptions"] = RpcAccess.SignedIn,
        ["ReviewRedemption"] = RpcAccess.SignedIn,
        ["ExportRedemptions"] = RpcAccess.Roles(Roles.Hr),
    };

    public static WebApplicationBuilder AddIncentivesService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();

        // The service's tables exist before the event bus's consumers start (hosted services start in registration order).
        services.AddLedgerGrains();
        // One silo co-hosted for the employees' ledger grains: it starts before the event bus's consumers that call them.
        builder.AddGrains(provider => provider.GetRequiredService<IncentivesDatabase>().DataSource);
        builder.AddEventBus();

        builder.AddValidatedOptions<IncentivesOptions>(IncentivesOptions.Section);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<RulesStore>();
        services.AddSingleton<BehaviourCache>();
        services.AddSingleton<RewardPipeline>();
        services.AddSingleton<FeedHub>();
        services.AddHostedService(provider => provider.GetRequiredService<FeedHub>());
        services.AddHostedService<QueuedObservationsUpgrade>();
        services.AddSingleton<IncentivesService>();

        services.AddBatchSubscription<BehaviourObserved, BehaviourObservedHandler>(); // A delivery batch per call, evaluated in its inbox transaction.
        services.AddSubscription<OrgUnitChanged, OrgUnitChangedHandler>();
        services.AddSubscription<EmployeeJoined, EmployeeJoinedHandler>();
        services.AddSubscription<EmployeeMoved, EmployeeMovedHandler>();
        services.AddSubscription<EmployeeUpdated, EmployeeUpdatedHandler>();
        services.AddSubscription<EmployeeLeft, EmployeeLeftHandler>();
        services.AddSubscription<EmployeeErased, EmployeeErasedHandler>();
        return builder;
    }

    /// <summary>
    /// What the employees' ledger grains need in their silo's services: the service's database (its tables created at
    /// start, a hosted service to register before whatever reads them) and the silo's record of its active ledgers. The
    /// service and the grain tests' clusters both use it.
    /// </summary>
    public static IServiceCollection AddLedgerGrains(this IServiceCollection services)
    {
        services.AddSingleton<IncentivesDatabase>();
        services.AddHostedService<IncentivesSchema>();
        services.AddSingleton<LedgerActivations>();
        // Redemptions commit in the ledgers' turns, with their events in the outbox.
        services.TryAddSingleton<Outbox>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<Redemptions>();
        return services;
    }

    public static WebApplication MapIncentivesService(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapDefaultEndpoints();
        app.MapGrpcService<IncentivesService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        return app;
    }
}
