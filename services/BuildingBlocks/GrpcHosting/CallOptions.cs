namespace Transformation.GrpcHosting;

/// <summary>Per-call settings of the client.</summary>
public sealed record CallOptions
{
    public Metadata? Headers { get; init; }

    /// <summary>Sent as grpc-timeout; the call fails with DEADLINE_EXCEEDED when it passes.</summary>
    public TimeSpan? Timeout { get; init; }

    public CancellationToken CancellationToken { get; init; }

    /// <summary>Compress request messages with gzip (grpc-encoding: gzip).</summary>
    public bool Gzip { get; init; }
}
