using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Resources;

namespace Transformation.ServiceDefaults;

/// <summary>The service's own ActivitySource and Meter, named "Transformation.&lt;service&gt;".</summary>
public sealed class ServiceTelemetry(string serviceName) : IDisposable
{
    public const string Prefix = "Transformation.";

    public string ServiceName { get; } = serviceName;

    public ActivitySource ActivitySource { get; } = new(Prefix + serviceName);

    public Meter Meter { get; } = new(Prefix + serviceName);

    public void Dispose()
    {
        ActivitySource.Dispose();
        Meter.Dispose();
    }
}

/// <summary>What is exported over OTLP, and the setting that turns it on.</summary>
public static class TelemetryExtensions
{
    /// <summary>
    /// The standard OpenTelemetry setting (environment variable or any configuration source); export is off while it is
    /// empty. OTEL_EXPORTER_OTLP_PROTOCOL (grpc, http/protobuf), OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES and
    /// OTEL_METRIC_EXPORT_INTERVAL are read as the OpenTelemetry specification says.
    /// </summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// Spans: ours (every "Transformation.*" source: event handling, the services' own), ASP.NET Core's request spans
    /// (each gRPC call served, tagged by Grpc.AspNetCore with grpc.method and grpc.status_code; the parent comes from the
    /// caller's traceparent), Grpc.Net.Client's call spans and, under each, HttpClient's request span (which sends the traceparent).
    /// </summary>
    public static IReadOnlyList<string> TraceSources { get; } = [ServiceTelemetry.Prefix + "*", "Microsoft.AspNetCore", "Grpc.Net.Client", "System.Net.Http"];

    /// <summary>
    /// Metrics: ours ("Transformation.*": event bus, the services' own), the instruments .NET has built in for HTTP servers
    /// (every gRPC call is an HTTP/2 request), HTTP clients, the runtime (GC, thread pool, CPU, memory) and Npgsql's pools,
    /// and Orleans' own where a service co-hosts a silo (activations per grain type, messaging, membership, reminders).
    /// </summary>
    public static IReadOnlyList<string> Meters { get; } =
    [
        ServiceTelemetry.Prefix + "*",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.Authentication",
        "Microsoft.AspNetCore.Authorization",
        "System.Net.Http",
        "System.Runtime",
        "Npgsql",
        "Microsoft.Orleans",
    ];

    /// <summary>Registers the service's telemetry; when <see cref="OtlpEndpointKey"/> is set, exports traces, metrics and logs over OTLP.</summary>
    internal static void AddTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Services.AddSingleton(new ServiceTelemetry(serviceName));
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]))
        {
            return;
        }

        // The exporter reads OTEL_EXPORTER_OTLP_* from the host's configuration; the providers flush when the host stops.
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing.AddSource([.. TraceSources]))
            .WithMetrics(metrics => metrics.AddMeter([.. Meters]))
            .WithLogging(logging => { }, options =>
            {
                options.IncludeFormattedMessage = true;
                options.IncludeScopes = true;
            })
            .UseOtlpExporter();
    }
}
