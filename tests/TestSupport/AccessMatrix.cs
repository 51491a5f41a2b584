using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.TestSupport;

/// <summary>
/// Calls every RPC of a service without a token and with a token of each role, over the wire, and checks the
/// outcome against the service's declared access: UNAUTHENTICATED without a token, PERMISSION_DENIED for a role
/// the declaration leaves out, and anything else (the handler's own answer to an empty request) for the rest.
/// </summary>
public static class AccessMatrix
{
    private const string RoleRefusal = "This call needs one of the roles";

    private static readonly MethodInfo CallMethod = typeof(AccessMatrix).GetMethod(nameof(CallEmptyAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>Every disagreement between the declaration and what the server did, one line each (empty: all agree).</summary>
    public static async Task<IReadOnlyList<string>> DisagreementsAsync(GrpcClient client, ServiceDescriptor service, RpcAccessMap declared, TestIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(declared);
        ArgumentNullException.ThrowIfNull(identity);
        var disagreements = new List<string>();
        string[] everyone = [.. Roles.People, Roles.Service];
        foreach (var method in service.Methods)
        {
            var access = declared[method.Name];
            var anonymous = await OutcomeAsync(client, method, token: null);
            if (access.IsAnonymous == anonymous.Code is StatusCode.Unauthenticated)
            {
                disagreements.Add($"{method.Name} without a token: {anonymous}");
            }

            foreach (var role in everyone)
            {
                var outcome = await OutcomeAsync(client, method, identity.TokenFor($"matrix-{role}", role));
                var allowed = access.IsAnonymous || access.AllowedRoles.Count == 0 || access.AllowedRoles.Contains(role);
                var refusedByRole = outcome.Code == StatusCode.PermissionDenied && outcome.Message.StartsWith(RoleRefusal, StringComparison.Ordinal);
                if (allowed == refusedByRole || outcome.Code == StatusCode.Unauthenticated)
                {
                    disagreements.Add($"{method.Name} as {role} ({access}): {outcome}");
                }
            }
        }

        return disagreements;
    }

    private static async Task<(StatusCode Code, string Message)> OutcomeAsync(GrpcClient client, MethodDescriptor method, string? token)
    {
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", $"Bearer {token}");
        }

        var call = CallMethod.MakeGenericMethod(method.InputType.ClrType, method.OutputType.ClrType);
        try
        {
            await (Task)call.Invoke(null, [client, method, new CallOptions { Headers = headers, Timeout = TimeSpan.FromSeconds(30) }])!;
            return (StatusCode.OK, "");
        }
        catch (RpcException e)
        {
            return (e.StatusCode, e.Message);
        }
    }

    /// <summary>An empty request (or no request messages at all, for client streaming), reading the whole answer.</summary>
    private static async Task CallEmptyAsync<TRequest, TResponse>(GrpcClient client, MethodDescriptor method, CallOptions options)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        if (!method.IsClientStreaming && !method.IsServerStreaming)
        {
            await client.UnaryAsync<TRequest, TResponse>(method, new TRequest(), options);
            return;
        }

        await using var call = method.IsClientStreaming
            ? client.Streaming<TRequest, TResponse>(method, options)
            : client.ServerStreaming<TRequest, TResponse>(method, new TRequest(), options);
        if (method.IsClientStreaming)
        {
            call.CompleteRequest();
        }

        await foreach (var _ in call.ReadAllAsync(options.CancellationToken))
        {
        }
    }
}
