using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Transformation.ServiceDefaults;

public static class Extensions
{
    /// <summary>The health-check tag of the checks that decide readiness.</summary>
    public const string ReadyTag = "ready";

    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";

    /// <summary>Wires what every service has: validated options, JSON logs, health, telemetry, graceful shutdown, the two ports.</summary>
    /// <param name="builder">The service's builder.</param>
    /// <param name="grpc">False for an app that serves no gRPC (the portal): only the HTTP/1.1 port is opened; Service:GrpcPort is ignored.</param>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, bool grpc = true)
    {
        var service = builder.AddValidatedOptions<ServiceOptions>(ServiceOptions.Section);

        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(json =>
        {
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            json.IncludeScopes = true;
        });

        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = service.ShutdownTimeout);
        // In Development, ASP.NET Core's developer exception page would send the stack trace of an unexpected exception to
        // the client; this filter answers without it (the page's middleware has logged the exception already). Elsewhere
        // Kestrel logs it and answers 500 without a body.
        builder.Services.AddSingleton<IDeveloperPageExceptionFilter, NoExceptionDetails>();
        builder.Services.AddSingleton<ShutdownHealthCheck>();
        builder.Services.AddHealthChecks().AddCheck<ShutdownHealthCheck>("not-shutting-down", tags: [ReadyTag]);

        builder.AddTelemetry(service.Name);
        builder.Services.AddHostedService<MigrateOnlyStop>();
        // Ports come from the validated options, so a bad port fails start-up with the validation message.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServiceOptions>>((kestrel, options) =>
        {
            kestrel.AddServerHeader = false;
            if (grpc)
            {
                Listen(kestrel, options.Value.BindAddress, options.Value.GrpcPort, HttpProtocols.Http2);
            }

            Listen(kestrel, options.Value.BindAddress, options.Value.HttpPort, HttpProtocols.Http1);
        });
        return builder;
    }

    /// <summary>Binds a section to options that are validated (data annotations) when the host starts, and returns them.</summary>
    public static TOptions AddValidatedOptions<TOptions>(this IHostApplicationBuilder builder, string section)
        where TOptions : class, new()
    {
        builder.Services.AddOptions<TOptions>()
            .Bind(builder.Configuration.GetSection(section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var value = new TOptions();
        builder.Configuration.GetSection(section).Bind(value);
        return value;
    }

    /// <summary>/health/live answers while the process runs; /health/ready while every check tagged "ready" passes.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        var httpPort = app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.HttpPort;
        var live = app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false });
        var ready = app.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        if (httpPort != 0)
        {
            // Health belongs to the HTTP/1.1 port; the gRPC port serves gRPC alone.
            live.RequireHost($"*:{httpPort}");
            ready.RequireHost($"*:{httpPort}");
        }

        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, string address, int port, HttpProtocols protocols)
    {
        Action<ListenOptions> configure = listen => listen.Protocols = protocols;
        switch (address)
        {
            case "*":
                kestrel.ListenAnyIP(port, configure);
                break;
            case "localhost":
                kestrel.Listen(IPAddress.Loopback, port, configure);
                break;
            default:
                kestrel.Listen(IPAddress.Parse(address), port, configure);
                break;
        }
    }
}

/// <summary>An unexpected exception is answered 500 with a problem that names no exception, in every environment.</summary>
internal sealed class NoExceptionDetails : IDeveloperPageExceptionFilter
{
    public Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next) =>
        Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "An unexpected error occurred; it has been logged.")
            .ExecuteAsync(errorContext.HttpContext);
}

/// <summary>Unhealthy once shutdown begins, so that load balancers stop routing to a draining instance.</summary>
internal sealed class ShutdownHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("The service is shutting down.")
            : HealthCheckResult.Healthy());
}

/// <summary>With Service:MigrateOnly, stops the host once every hosted service has started (each has created its schema).</summary>
internal sealed class MigrateOnlyStop(IHostApplicationLifetime lifetime, IOptions<ServiceOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MigrateOnly)
        {
            lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
