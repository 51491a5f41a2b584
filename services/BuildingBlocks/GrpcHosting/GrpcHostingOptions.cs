using System.ComponentModel.DataAnnotations;

namespace Transformation.GrpcHosting;

/// <summary>Server settings, under the "GrpcHosting" section.</summary>
public sealed class GrpcHostingOptions
{
    public const string Section = "GrpcHosting";

    /// <summary>The largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. 4 MiB, as gRPC C.</summary>
    [Range(1, int.MaxValue)]
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>How often readiness is re-checked for grpc.health.v1.Health/Watch (the health check publisher's period; at least 1 s).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan HealthWatchInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Calls that change data (RPCs not marked NO_SIDE_EFFECTS in their proto) each caller may make per second,
    /// sustained; 0 turns the limit off. Service identities are not limited.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int WriteCallsPerSecond { get; set; } = 50;

    /// <summary>How many such calls a caller may make at once after a quiet spell (the token bucket's size).</summary>
    [Range(1, int.MaxValue)]
    public int WriteBurst { get; set; } = 200;

    /// <summary>The longest string any field of a request may hold, in characters; longer is INVALID_ARGUMENT.</summary>
    [Range(1, int.MaxValue)]
    public int MaxStringLength { get; set; } = 20_000;

    /// <summary>The most entries a repeated or map field of a request may hold; more is INVALID_ARGUMENT.</summary>
    [Range(1, int.MaxValue)]
    public int MaxListItems { get; set; } = 10_000;
}
