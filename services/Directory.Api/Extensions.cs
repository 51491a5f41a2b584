using Npgsql;
using Transformation.Directory.Api.Infrastructure;
using Transformation.Directory.Api.Scim;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
// Ours, not the generated DirectoryService of the contracts (its clients).
using DirectoryService = Transformation.Directory.Api.Grpc.DirectoryService;

namespace Transformation.Directory.Api;

public static class Extensions
{
    private static readonly string[] Writers = [Roles.Hr, Roles.Operator, Roles.Service];

    /// <summary>Who may call each RPC: the one place this service declares it (tests check the server against it).</summary>
    public static RpcAccessMap AccessMap { get; } = new()
    {
        // Who works where is known to every signed-in person and service.
        ["GetOrgTree"] = RpcAccess.SignedIn,
        ["GetEmployee"] = RpcAccess.SignedIn,
        ["ListUnitMembers"] = RpcAccess.SignedIn,
        ["SearchEmployees"] = RpcAccess.SignedIn,
        ["GetManagerChain"] = RpcAccess.SignedIn,
        ["StreamDirectorySnapshot"] = RpcAccess.SignedIn,

        // Changes come from hr, an operator or the HR system's provisioning.
        ["UpsertOrgUnit"] = RpcAccess.Roles(Writers),
        ["UpsertEmployee"] = RpcAccess.Roles(Writers),
        ["ImportDirectory"] = RpcAccess.Roles(Writers),
        ["EraseEmployee"] = RpcAccess.Roles(Writers),
        // Republishing every snapshot for consumers rebuilding their copies: a person's decision, not provisioning's.
        ["RepublishDirectory"] = RpcAccess.Roles(Roles.Hr, Roles.Operator),

        // A person exports their own data (checked in the handler); hr and operators anyone's.
        ["ExportEmployeeData"] = RpcAccess.SignedIn,
    };

    /// <summary>Everything the Directory service needs: defaults, identity, gRPC, the event bus, its database.</summary>
    public static WebApplicationBuilder AddDirectoryService(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults();
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();
        builder.AddEventBus();
        var options = builder.AddValidatedOptions<DirectoryOptions>(DirectoryOptions.Section);
        var database = options.Database.Length > 0 ? options.Database : builder.Configuration["EventBus:Database"] ?? "";

        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(database));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DirectoryStore>();
        builder.Services.AddSingleton<DirectoryQueries>();
        builder.Services.AddSingleton<ScimDirectory>();
        builder.Services.AddHostedService<SchemaCreator>();
        return builder;
    }

    public static WebApplication MapDirectoryService(this WebApplication app)
    {
        app.MapDefaultEndpoints();
        app.MapGrpcService<DirectoryService>(AccessMap);
        app.MapEventBus(); // DaprSidecar mode: the sidecar's subscription list and delivery routes, on the HTTP port
        app.MapScim();
        return app;
    }

    private sealed class SchemaCreator(NpgsqlDataSource dataSource) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => DirectorySchema.EnsureCreatedAsync(dataSource, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
