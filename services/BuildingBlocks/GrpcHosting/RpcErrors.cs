using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using StatusCode = Grpc.Core.StatusCode;

namespace Transformation.GrpcHosting;

/// <summary>Failures that carry the rich error model: a <c>google.rpc.Status</c> whose code and message equal the trailers'.</summary>
public static class RpcErrors
{
    /// <summary>INVALID_ARGUMENT carrying a <c>google.rpc.BadRequest</c> with one violation per (field, description).</summary>
    public static RpcException InvalidArgument(string message, params IEnumerable<(string Field, string Description)> violations)
    {
        var badRequest = new BadRequest();
        badRequest.FieldViolations.AddRange(violations.Select(v => new BadRequest.Types.FieldViolation { Field = v.Field, Description = v.Description }));
        return WithDetails(StatusCode.InvalidArgument, message, badRequest);
    }

    /// <summary><paramref name="code"/> and <paramref name="message"/>, with <paramref name="details"/> packed into the status.</summary>
    public static RpcException WithDetails(StatusCode code, string message, params IEnumerable<IMessage> details)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.AddRange(details.Select(Any.Pack));
        return status.ToRpcException();
    }

    /// <summary>The first detail of type <typeparamref name="T"/> the failed call carried, if any.</summary>
    public static T? GetDetail<T>(this RpcException exception)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.GetRpcStatus()?.GetDetail<T>();
    }
}
