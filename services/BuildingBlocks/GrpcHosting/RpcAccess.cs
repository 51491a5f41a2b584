using Google.Protobuf.Reflection;
using Grpc.Core;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.GrpcHosting;

/// <summary>Who may call one RPC; checked before the handler runs (UNAUTHENTICATED, PERMISSION_DENIED).</summary>
public sealed class RpcAccess
{
    private readonly string[] _roles;

    private RpcAccess(bool anonymous, string[] roles)
    {
        IsAnonymous = anonymous;
        _roles = roles;
    }

    /// <summary>No token needed: only for calls such as health that must answer anyone.</summary>
    public static RpcAccess Anonymous { get; } = new(anonymous: true, []);

    /// <summary>Any valid token; ownership rules (the named sponsor, the employee themselves) stay in the handler.</summary>
    public static RpcAccess SignedIn { get; } = new(anonymous: false, []);

    public bool IsAnonymous { get; }

    public IReadOnlyList<string> AllowedRoles => _roles;

    /// <summary>A valid token carrying at least one of <paramref name="roles"/>.</summary>
    public static RpcAccess Roles(params string[] roles)
    {
        if (roles.Length == 0)
        {
            throw new ArgumentException("Name at least one role, or use SignedIn.", nameof(roles));
        }

        return new RpcAccess(anonymous: false, roles);
    }

    /// <summary>Null when the caller may go on; otherwise the refusal to send.</summary>
    internal RpcException? Check(Caller? caller)
    {
        if (IsAnonymous)
        {
            return null;
        }

        if (caller is null)
        {
            return new RpcException(new Status(StatusCode.Unauthenticated, "A valid bearer token is required."));
        }

        return _roles.Length == 0 || caller.IsInAnyRole(_roles)
            ? null
            : new RpcException(new Status(StatusCode.PermissionDenied, $"This call needs one of the roles: {string.Join(", ", _roles)}."));
    }

    public override string ToString() => IsAnonymous ? "anonymous" : _roles.Length == 0 ? "signed in" : string.Join(" | ", _roles);
}

/// <summary>
/// The access of every RPC of one service, by method name: the one place where a service declares who may call
/// what. Mapping fails when a method of the proto service has no entry, or an entry names no method.
/// </summary>
public sealed class RpcAccessMap : Dictionary<string, RpcAccess>
{
    public RpcAccessMap()
        : base(StringComparer.Ordinal)
    {
    }

    /// <summary>The same access for every method (tests, and built-in services such as health).</summary>
    public static RpcAccessMap ForAll(ServiceDescriptor service, RpcAccess access)
    {
        ArgumentNullException.ThrowIfNull(service);
        var map = new RpcAccessMap();
        foreach (var method in service.Methods)
        {
            map[method.Name] = access;
        }

        return map;
    }

    internal RpcAccess For(ServiceDescriptor service, MethodDescriptor method) =>
        TryGetValue(method.Name, out var access)
            ? access
            : throw new InvalidOperationException(
                $"gRPC method '/{service.FullName}/{method.Name}' declares no access: add [\"{method.Name}\"] = RpcAccess.… to the service's RpcAccessMap.");

    internal void ThrowIfUnknown(ServiceDescriptor service)
    {
        var unknown = Keys.Where(name => service.FindMethodByName(name) is null).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException($"The access map of {service.FullName} names methods it does not have: {string.Join(", ", unknown)}.");
        }
    }
}
