using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

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

internal static class TelemetryExtensions
{
    /// <summary>
    /// Registers the service's telemetry; when OTEL_EXPORTER_OTLP_ENDPOINT is set, exports every
    /// Transformation.* source and meter over OTLP (the hosting package that usually wires this does not restore here).
    /// </summary>
    public static void AddTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Services.AddSingleton(new ServiceTelemetry(serviceName));
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return;
        }

        var resource = ResourceBuilder.CreateDefault().AddService(serviceName);
        builder.Services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource).AddSource(ServiceTelemetry.Prefix + "*").AddOtlpExporter().Build());
        builder.Services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource).AddMeter(ServiceTelemetry.Prefix + "*").AddOtlpExporter().Build());
        builder.Services.AddHostedService<TelemetryStarter>();
    }

    /// <summary>Creates the providers at start-up; the container disposes them (flushing) at shutdown.</summary>
    private sealed class TelemetryStarter(TracerProvider tracer, MeterProvider meter) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            tracer.ForceFlush();
            meter.ForceFlush();
            return Task.CompletedTask;
        }
    }
}
