using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Transformation.EventBus;
using Grpc.Core;
using Transformation.Grains;
using Transformation.GrpcHosting;
using Transformation.Probe.V1;
using Transformation.ServiceDefaults;
using Transformation.TestSupport;

namespace Transformation.Telemetry.FunctionalTests;

/// <summary>Traces across a gRPC call and an event, metrics and logs, exported over OTLP when configured.</summary>
public sealed class TelemetryTests(PostgresDatabase database, RabbitMqVirtualHost vhost)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ATraceGoesFromAClientCallThroughTheServiceToItsEventHandlerAndIsExportedWithMetricsAndLogs()
    {
        await using var receiver = await OtlpReceiver.StartAsync(Ct);
        var handled = new HandledProbes();
        var (app, grpcPort) = Build(handled, ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.Endpoint.ToString()), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"));
        await app.StartAsync(Ct);

        using var client = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{grpcPort}"));
        await client.UnaryAsync<RecordProbeRequest, RecordProbeResponse>(
            ProbeReflection.Descriptor.Services[0].FindMethodByName("RecordProbe"), new RecordProbeRequest { ProbeId = "probe-1" });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var handlerTrace = await handled.Probe("probe-1").WaitAsync(timeout.Token);

        // Stopping the host disposes the providers, which export what they hold.
        await app.StopAsync(Ct);
        await app.DisposeAsync();

        var spans = receiver.Spans();
        var call = spans.Single(s => s.Kind == ExportedSpan.Client && s.Scope == "Grpc.Net.Client");
        // The call's own HTTP/2 request (under load another HttpClient request of the host may be exported beside it).
        var request = spans.Single(s => s.Kind == ExportedSpan.Client && s.Scope == "System.Net.Http" && s.TraceId == call.TraceId);
        var served = spans.Single(s => s.Kind == ExportedSpan.Server && s.Scope == "Microsoft.AspNetCore" && s.ParentSpanId == request.SpanId);
        var consumed = spans.Single(s => s.Kind == ExportedSpan.Consumer && s.Name == "probe-recorded process");

        // One trace: the gRPC call's span is the parent of its HTTP/2 request's, which is the server's parent (traceparent
        // in the request headers); the server's span, current when the event was written to the outbox, is the handler's
        // parent (traceparent in the CloudEvent).
        request.ParentSpanId.ShouldBe(call.SpanId);
        served.TraceId.ShouldBe(call.TraceId);
        consumed.TraceId.ShouldBe(call.TraceId);
        consumed.ParentSpanId.ShouldBe(served.SpanId);
        handlerTrace.ShouldBe(call.TraceId);
        receiver.TraceServiceNames().ShouldBe(["probe"]);

        // Metrics of every kind the service has: ASP.NET Core's (each gRPC call is an HTTP/2 request), the runtime's, the event bus's,
        // its Orleans silo's (what an operator watches of the cluster).
        var metrics = receiver.Metrics();
        metrics.ShouldContain(("Microsoft.AspNetCore.Hosting", "http.server.request.duration"));
        metrics.ShouldContain(m => m.Meter == "System.Runtime" && m.Instrument.StartsWith("dotnet.gc.", StringComparison.Ordinal));
        metrics.ShouldContain(("Transformation.probe", "eventbus.handled"));
        metrics.ShouldContain(("Transformation.probe", "eventbus.published"));
        metrics.ShouldContain(m => m.Meter == "Microsoft.Orleans" && m.Instrument.StartsWith("orleans-", StringComparison.Ordinal));

        receiver.LogRecords().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task NothingIsExportedWithoutAnEndpoint()
    {
        var (app, _) = Build(new HandledProbes());
        await using (app)
        {
            app.Services.GetService<TracerProvider>().ShouldBeNull();
            app.Services.GetService<MeterProvider>().ShouldBeNull();
            app.Services.GetRequiredService<ServiceTelemetry>().ActivitySource.Name.ShouldBe("Transformation.probe");
        }
    }

    private (WebApplication App, int GrpcPort) Build(HandledProbes handled, params (string Key, string Value)[] settings)
    {
        var grpcPort = Ports.Free();
        var builder = WebApplication.CreateBuilder();
        var configuration = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "probe",
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database.ConnectionString,
            ["EventBus:RabbitMq"] = vhost.AmqpUri.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "60000",
            ["Grains:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings)
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        builder.AddServiceDefaults();
        builder.AddGrpcHosting();
        builder.AddGrains(provider => provider.GetRequiredService<NpgsqlDataSource>());
        builder.AddEventBus();
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(database.ConnectionString));
        builder.Services.AddSingleton(handled);
        builder.Services.AddSingleton<ProbeService>();
        builder.Services.AddSubscription<ProbeRecorded, ProbeRecordedHandler>();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGrpcService<ProbeService>(RpcAccessMap.ForAll(ProbeReflection.Descriptor.Services[0], RpcAccess.Anonymous));
        return (app, grpcPort);
    }
}

/// <summary>The trace id each handled probe ran in.</summary>
public sealed class HandledProbes
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource<string>> _probes = new(StringComparer.Ordinal);

    public Task<string> Probe(string id) => Source(id).Task;

    internal void Handled(string id, string traceId) => Source(id).TrySetResult(traceId);

    private TaskCompletionSource<string> Source(string id) => _probes.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>RecordProbe: writes ProbeRecorded through the outbox, in the call's trace.</summary>
public sealed class ProbeService(NpgsqlDataSource dataSource, Outbox outbox) : Probe.V1.ProbeService.ProbeServiceBase
{
    public override async Task<RecordProbeResponse> RecordProbe(RecordProbeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        await using var connection = await dataSource.OpenConnectionAsync(context.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(context.CancellationToken);
        await outbox.EnqueueAsync(connection, transaction, request.ProbeId, new ProbeRecorded { ProbeId = request.ProbeId }, context.CancellationToken);
        await transaction.CommitAsync(context.CancellationToken);
        return new RecordProbeResponse();
    }
}

public sealed class ProbeRecordedHandler(HandledProbes handled) : IHandleEvent<ProbeRecorded>
{
    public Task HandleAsync(ProbeRecorded message, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        handled.Handled(message.ProbeId, Activity.Current?.TraceId.ToString() ?? "");
        return Task.CompletedTask;
    }
}
