using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace Transformation.GrpcHosting;

/// <summary>
/// A call that ended with a non-OK gRPC status: thrown by handlers to fail a call, and by the client
/// when a call fails. <see cref="Details"/> travels as <c>grpc-status-details-bin</c>, a
/// <c>google.rpc.Status</c> whose code and message always equal the trailers'.
/// </summary>
public sealed class RpcException : Exception
{
    public RpcException(StatusCode statusCode, string message, IEnumerable<IMessage>? details = null, Metadata? trailers = null)
        : base(message)
    {
        StatusCode = statusCode;
        Trailers = trailers ?? [];
        var packed = details?.Select(Any.Pack).ToList() ?? [];
        Details = packed.Count == 0 ? null : ToStatus(statusCode, message, packed);
    }

    internal RpcException(StatusCode statusCode, string message, Google.Rpc.Status? details, Metadata trailers)
        : base(message)
    {
        StatusCode = statusCode;
        Details = details;
        Trailers = trailers;
    }

    public RpcException()
        : this(StatusCode.Unknown, "")
    {
    }

    public RpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public RpcException(string message, Exception innerException)
        : this(StatusCode.Unknown, message, innerException)
    {
    }

    public RpcException(StatusCode statusCode, string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Trailers = [];
    }

    public StatusCode StatusCode { get; }

    /// <summary>The rich error model, or null when the call carried no details.</summary>
    public Google.Rpc.Status? Details { get; }

    /// <summary>Trailers sent (server) or received (client) with the status.</summary>
    public Metadata Trailers { get; }

    /// <summary>The first detail of type <typeparamref name="T"/>, if any.</summary>
    public T? GetDetail<T>()
        where T : class, IMessage<T>, new() =>
        Details?.Details.FirstOrDefault(any => any.Is(new T().Descriptor))?.Unpack<T>();

    /// <summary>INVALID_ARGUMENT carrying a <c>google.rpc.BadRequest</c> with one violation per (field, description).</summary>
    public static RpcException InvalidArgument(string message, params IEnumerable<(string Field, string Description)> violations)
    {
        var badRequest = new BadRequest();
        badRequest.FieldViolations.AddRange(violations.Select(v => new BadRequest.Types.FieldViolation { Field = v.Field, Description = v.Description }));
        return new RpcException(StatusCode.InvalidArgument, message, [badRequest]);
    }

    internal static Google.Rpc.Status ToStatus(StatusCode code, string message, IEnumerable<Any> details)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.AddRange(details);
        return status;
    }
}
