using Microsoft.AspNetCore.DataProtection;
using Transformation.Baselines.Api.Infrastructure;
using Transformation.Baselines.Api.IntegrationEvents.Handlers;
using Transformation.Baselines.Api.Model;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Microsoft.Extensions.Options;
using Transformation.GrpcHosting;
using Transformation.Mail;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
// Ours, not the generated BaselineService of the contracts (its clients).
using BaselineService = Transformation.Baselines.Api.Grpc.BaselineService;

namespace Transformation.Baselines.Api;

public static class Extensions
{
    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        ["DefineDimension"] = RpcAccess.Roles(Access.Editors),
        ["ReviseDimension"] = RpcAccess.Roles(Access.Editors),
        ["DefineItem"] = RpcAccess.Roles(Access.Editors),
        ["CreateAssessment"] = RpcAccess.Roles(Access.Editors),
        ["CloseAssessment"] = RpcAccess.Roles(Access.Editors),
        ["PublishScores"] = RpcAccess.Roles(Access.Editors),
        ["SetBaseline"] = RpcAccess.Roles(Access.Editors),
        ["ListDimensions"] = RpcAccess.SignedIn,
        ["GetDimensionHistory"] = RpcAccess.SignedIn,
        ["GetAssessment"] = RpcAccess.SignedIn,
        // Employees too, narrowed in the handler to the published ones.
        ["ListAssessments"] = RpcAccess.SignedIn,
        ["ListBaselines"] = RpcAccess.SignedIn,
        ["SubmitResponses"] = RpcAccess.Roles(Access.Submitters),
        // Employees too, narrowed in the handler to published organisation-level scores.
        ["GetScores"] = RpcAccess.SignedIn,
        ["GetHeatmap"] = RpcAccess.Roles(Access.ScoreReaders),
        ["ListComments"] = RpcAccess.Roles(Access.CommentReaders),
        ["GetDimensionScores"] = RpcAccess.Roles(Access.ScoreReaders),
        ["ListAuditEntries"] = RpcAccess.Roles(Access.Auditors),
        ["OpenSurvey"] = RpcAccess.Roles(Access.Editors),
        ["ExtendSurvey"] = RpcAccess.Roles(Access.Editors),
        ["GetResponseRates"] = RpcAccess.Roles(Access.Editors),
        // Anyone invited, narrowed in the handler to the caller's own invitation.
        ["ListMySurveys"] = RpcAccess.SignedIn,
        ["GetMySurvey"] = RpcAccess.SignedIn,
        ["SaveSurveyDraft"] = RpcAccess.SignedIn,
        ["SubmitSurvey"] = RpcAccess.SignedIn,
        ["SendSurveyReminder"] = RpcAccess.Roles(Access.Editors),
        ["ListSurveyMailTemplates"] = RpcAccess.Roles(Access.Editors),
        ["SetSurveyMailTemplate"] = RpcAccess.Roles(Access.Editors),
        ["ExportResults"] = RpcAccess.Roles(Access.ResultExporters),
        ["SetSurveyRecurrence"] = RpcAccess.Roles(Access.Editors),
        ["StopSurveyRecurrence"] = RpcAccess.Roles(Access.Editors),
        ["ListSurveyRecurrences"] = RpcAccess.Roles(Access.Editors),
    };

    public static WebApplicationBuilder AddBaselinesService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();
        builder.AddValidatedOptions<BaselinesOptions>(BaselinesOptions.Section);

        // The tables exist before the event bus's consumers start (hosted services start in registration order).
        services.AddSingleton<BaselinesDatabase>();
        services.AddHostedService<BaselinesSchema>();
        builder.AddEventBus();

        services.AddSingleton(TimeProvider.System);

        // The key ring sealing open surveys' answers: never in the database they are sealed against (see SurveyStore).
        var surveys = builder.Configuration.GetSection($"{BaselinesOptions.Section}:Surveys").Get<SurveyOptions>() ?? new SurveyOptions();
        services.AddDataProtection().SetApplicationName("transformation-baselines").PersistKeysToFileSystem(new DirectoryInfo(surveys.KeyRingDirectory));
        services.AddSingleton<SurveySeal>();
        services.AddSingleton<ScoreCache>();
        services.AddSingleton<BaselineService>();
        services.AddMailOutboxSender("Baselines:Mail", provider => provider.GetRequiredService<IOptions<BaselinesOptions>>().Value.Mail,
            provider => provider.GetRequiredService<BaselinesDatabase>().OpenAsync);
        services.AddHostedService<SurveyReminderScheduler>();
        services.AddHostedService<SurveyRecurrenceScheduler>();
        services.AddSubscription<OrgUnitChanged, OrgUnitChangedHandler>();
        services.AddSubscription<EmployeeJoined, EmployeeHandlers>();
        services.AddSubscription<EmployeeMoved, EmployeeHandlers>();
        services.AddSubscription<EmployeeUpdated, EmployeeHandlers>();
        services.AddSubscription<EmployeeLeft, EmployeeHandlers>();
        services.AddSubscription<EmployeeErased, EmployeeHandlers>();
        return builder;
    }

    public static WebApplication MapBaselinesService(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapDefaultEndpoints();
        app.MapGrpcService<BaselineService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        return app;
    }
}
