using System.Diagnostics;

namespace Transformation.GrpcHosting;

/// <summary>Spans for gRPC calls on both sides, continued from and carried in the W3C <c>traceparent</c> metadata.</summary>
public static class GrpcTelemetry
{
    /// <summary>Matches ServiceDefaults' "Transformation.*" exporter filter.</summary>
    public const string SourceName = "Transformation.GrpcHosting";

    public static ActivitySource ActivitySource { get; } = new(SourceName);

    internal static Activity? StartServer(string method, string? traceParent, string? traceState)
    {
        // Nothing to parse or allocate when nobody listens (the common case without an exporter).
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        // An absent or malformed traceparent starts a new trace.
        _ = ActivityContext.TryParse(traceParent, traceState, out var parent);
        var activity = ActivitySource.StartActivity(method.TrimStart('/'), ActivityKind.Server, parent);
        activity?.SetTag("rpc.system", "grpc");
        return activity;
    }

    internal static Activity? StartClient(string method)
    {
        var activity = ActivitySource.StartActivity(method.TrimStart('/'), ActivityKind.Client);
        activity?.SetTag("rpc.system", "grpc");
        return activity;
    }

    internal static void SetStatus(Activity? activity, StatusCode code)
    {
        activity?.SetTag("rpc.grpc.status_code", (int)code);
        if (code != StatusCode.OK)
        {
            activity?.SetStatus(ActivityStatusCode.Error, code.ToString());
        }
    }
}
