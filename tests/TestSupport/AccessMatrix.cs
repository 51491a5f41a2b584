using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
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
    public static async Task<IReadOnlyList<string>> DisagreementsAsync(GrpcTestClient client, ServiceDescriptor service, RpcAccessMap declared, TestIdentity identity)
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

    private static async Task<(StatusCode Code, string Message)> OutcomeAsync(GrpcTestClient client, MethodDescriptor method, string? token)
    {
        var call = CallMethod.MakeGenericMethod(method.InputType.ClrType, method.OutputType.ClrType);
        try
        {
            await (Task)call.Invoke(null, [client, method, GrpcTestClient.As(token, TimeSpan.FromSeconds(30))])!;
            return (StatusCode.OK, "");
        }
        catch (RpcException e)
        {
            return (e.StatusCode, e.Status.Detail);
        }
    }

    /// <summary>An empty request (or no request messages at all, for client streaming), reading the whole answer.</summary>
    private static async Task CallEmptyAsync<TRequest, TResponse>(GrpcTestClient client, MethodDescriptor method, CallOptions options)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        if (!method.IsClientStreaming && !method.IsServerStreaming)
        {
            await client.UnaryAsync<TRequest, TResponse>(method, new TRequest(), options);
            return;
        }

        if (!method.IsClientStreaming)
        {
            using var serverStreaming = client.ServerStreaming<TRequest, TResponse>(method, new TRequest(), options);
            await foreach (var _ in serverStreaming.ResponseStream.ReadAllAsync(options.CancellationToken))
            {
            }

            return;
        }

        using var call = client.Duplex<TRequest, TResponse>(method, options);
        await call.RequestStream.CompleteAsync();
        await foreach (var _ in call.ResponseStream.ReadAllAsync(options.CancellationToken))
        {
        }
    }
}
