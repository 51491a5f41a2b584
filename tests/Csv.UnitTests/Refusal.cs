using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Transformation.Csv.UnitTests;

/// <summary>A service's INVALID_ARGUMENT as the generated clients throw it: the google.rpc.Status with its BadRequest in the trailers.</summary>
internal static class Refusal
{
    public static RpcException InvalidArgument(string message, params (string Field, string Description)[] violations)
    {
        var badRequest = new BadRequest();
        badRequest.FieldViolations.AddRange(violations.Select(v => new BadRequest.Types.FieldViolation { Field = v.Field, Description = v.Description }));
        return new Google.Rpc.Status { Code = (int)Code.InvalidArgument, Message = message, Details = { Any.Pack(badRequest) } }.ToRpcException();
    }
}
