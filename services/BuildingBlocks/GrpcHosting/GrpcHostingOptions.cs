using System.ComponentModel.DataAnnotations;

namespace Transformation.GrpcHosting;

/// <summary>Server settings, under the "GrpcHosting" section.</summary>
public sealed class GrpcHostingOptions
{
    public const string Section = "GrpcHosting";

    /// <summary>The largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. 4 MiB, as gRPC C.</summary>
    [Range(1, int.MaxValue)]
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>How often grpc.health.v1.Health/Watch re-reads readiness.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan HealthWatchInterval { get; set; } = TimeSpan.FromSeconds(5);
}
