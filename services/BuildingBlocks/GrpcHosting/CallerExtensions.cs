using Grpc.Core;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.GrpcHosting;

public static class CallerExtensions
{
    /// <summary>The authenticated caller; UNAUTHENTICATED when the call carried no valid bearer token.</summary>
    public static Caller Caller(this ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.GetHttpContext().User.ToCaller()
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "A valid bearer token is required."));
    }

    /// <summary>PERMISSION_DENIED unless the caller has one of <paramref name="roles"/>.</summary>
    public static Caller RequireRole(this ServerCallContext context, params string[] roles)
    {
        var caller = context.Caller();
        return caller.IsInAnyRole(roles)
            ? caller
            : throw new RpcException(new Status(StatusCode.PermissionDenied, $"This call needs one of the roles: {string.Join(", ", roles)}."));
    }
}
