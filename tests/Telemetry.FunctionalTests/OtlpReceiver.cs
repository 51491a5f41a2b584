using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Transformation.TestSupport;

namespace Transformation.Telemetry.FunctionalTests;

/// <summary>A span as OTLP carries it (opentelemetry-proto trace/v1/trace.proto).</summary>
internal sealed record ExportedSpan(string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind)
{
    public const int Server = 2;
    public const int Client = 3;
    public const int Consumer = 5;
}

/// <summary>
/// An OTLP/HTTP receiver (protocol http/protobuf) on a loopback port: keeps every export request, and reads the parts the
/// tests look at with protobuf's wire reader (the OTLP protos are not in this repository).
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<byte[]>> _requests = new(StringComparer.Ordinal);
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    public Uri Endpoint => new($"http://127.0.0.1:{Port}");

    public int Port { get; private init; }

    public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken)
    {
        var port = Ports.Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app) { Port = port };
        app.MapPost("/v1/{signal}", async (string signal, HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            receiver._requests.GetOrAdd(signal, _ => new()).Enqueue(body.ToArray());
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync(cancellationToken);
        return receiver;
    }

    public IReadOnlyList<byte[]> Requests(string signal) => _requests.TryGetValue(signal, out var queue) ? [.. queue] : [];

    /// <summary>Every span received: ExportTraceServiceRequest.resource_spans(1).scope_spans(2).{scope(1).name(1), spans(2)}.</summary>
    public List<ExportedSpan> Spans() =>
        [.. from request in Requests("traces")
            from resource in Messages(request, 1)
            from scope in Messages(resource, 2)
            let scopeName = Text(Messages(scope, 1).FirstOrDefault(), 1)
            from span in Messages(scope, 2)
            select new ExportedSpan(scopeName, Hex(span, 1), Hex(span, 2), Hex(span, 4), Text(span, 5), (int)Number(span, 6))];

    /// <summary>Every (meter, instrument) received: resource_metrics(1).scope_metrics(2).{scope(1).name(1), metrics(2).name(1)}.</summary>
    public HashSet<(string Meter, string Instrument)> Metrics() =>
        [.. from request in Requests("metrics")
            from resource in Messages(request, 1)
            from scope in Messages(resource, 2)
            let meter = Text(Messages(scope, 1).FirstOrDefault(), 1)
            from metric in Messages(scope, 2)
            select (meter, Text(metric, 1))];

    /// <summary>The service.name of every resource that exported spans (resource(1).attributes(1): key(1), value(2).string_value(1)).</summary>
    public HashSet<string> TraceServiceNames() =>
        [.. from request in Requests("traces")
            from resource in Messages(request, 1)
            from attribute in Messages(Messages(resource, 1).FirstOrDefault(), 1)
            where Text(attribute, 1) == "service.name"
            select Text(Messages(attribute, 2).FirstOrDefault(), 1)];

    /// <summary>The number of log records received: resource_logs(1).scope_logs(2).log_records(2).</summary>
    public int LogRecords() =>
        (from request in Requests("logs") from resource in Messages(request, 1) from scope in Messages(resource, 2) from record in Messages(scope, 2) select record).Count();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static List<(int Field, object Value)> Fields(byte[]? message)
    {
        var fields = new List<(int, object)>();
        if (message is null)
        {
            return fields;
        }

        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            fields.Add((field, WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.Varint => input.ReadUInt64(),
                WireFormat.WireType.Fixed64 => input.ReadFixed64(),
                WireFormat.WireType.Fixed32 => input.ReadFixed32(),
                WireFormat.WireType.LengthDelimited => input.ReadBytes().ToByteArray(),
                var other => throw new InvalidDataException($"Unexpected wire type {other} in an OTLP message."),
            }));
        }

        return fields;
    }

    private static IEnumerable<byte[]> Messages(byte[]? message, int field) => Fields(message).Where(f => f.Field == field).Select(f => (byte[])f.Value);

    private static string Text(byte[]? message, int field) => Messages(message, field).Select(b => System.Text.Encoding.UTF8.GetString(b)).FirstOrDefault() ?? "";

    private static string Hex(byte[] message, int field) => Convert.ToHexStringLower(Messages(message, field).FirstOrDefault() ?? []);

    private static ulong Number(byte[] message, int field) => Fields(message).Where(f => f.Field == field).Select(f => (ulong)f.Value).FirstOrDefault();
}
