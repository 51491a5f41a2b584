using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;

// A failure too large to send is replaced by its bounded copy, not rethrown as it was.
#pragma warning disable MA0027

namespace Transformation.GrpcHosting;

/// <summary>
/// Runs before every handler: refuses callers the RPC's access does not admit (UNAUTHENTICATED, PERMISSION_DENIED
/// naming the roles), rate-limits calls that change data (RESOURCE_EXHAUSTED), checks each request message against
/// <see cref="InputLimits"/> (INVALID_ARGUMENT), answers a gzip request with gzip, and bounds the failure a handler
/// throws (<see cref="StatusBounds"/>), and answers a transient failure of a dependency (<see cref="TransientFailures"/>) with
/// UNAVAILABLE. Other unexpected exceptions are left to Grpc.AspNetCore, which logs them and sends only UNKNOWN.
/// </summary>
internal sealed class RpcPolicyInterceptor(RpcMethodPolicies policies, WriteRateLimits writeLimits, TransientFailures transientFailures,
    IOptions<GrpcHostingOptions> options) : Interceptor
{
    private readonly GrpcHostingOptions _options = options.Value;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Task<TResponse> call;
        try
        {
            Admit(context);
            CheckInput(request);
            call = GzipResponseContext.For(context) is { } gzip ? GzipUnaryAsync(request, gzip, continuation) : continuation(request, context);
        }
        catch (RpcException e)
        {
            return Task.FromException<TResponse>(StatusBounds.Bound(e));
        }

        // The hot path: a handler that has already answered needs no await.
        return call.IsCompletedSuccessfully ? call : BoundedAsync(call);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            Admit(context);
            CheckInput(request);
            var gzip = GzipResponseContext.For(context);
            await continuation(request, gzip?.Writer(responseStream) ?? responseStream, gzip ?? context);
        }
        catch (RpcException e) when (StatusBounds.Bound(e) is var bounded && bounded != e)
        {
            throw bounded;
        }
        catch (Exception e) when (e is not RpcException && transientFailures.Matches(e))
        {
            throw Unavailable(e);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            Admit(context);
            var gzip = GzipResponseContext.For(context);
            var response = await continuation(new CheckedReader<TRequest>(requestStream, this), gzip ?? context);
            await (gzip?.EnsureHeadersWrittenAsync() ?? Task.CompletedTask);
            return response;
        }
        catch (RpcException e) when (StatusBounds.Bound(e) is var bounded && bounded != e)
        {
            throw bounded;
        }
        catch (Exception e) when (e is not RpcException && transientFailures.Matches(e))
        {
            throw Unavailable(e);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            Admit(context);
            var gzip = GzipResponseContext.For(context);
            await continuation(new CheckedReader<TRequest>(requestStream, this), gzip?.Writer(responseStream) ?? responseStream, gzip ?? context);
        }
        catch (RpcException e) when (StatusBounds.Bound(e) is var bounded && bounded != e)
        {
            throw bounded;
        }
        catch (Exception e) when (e is not RpcException && transientFailures.Matches(e))
        {
            throw Unavailable(e);
        }
    }

    private static async Task<TResponse> GzipUnaryAsync<TRequest, TResponse>(TRequest request, GzipResponseContext gzip, UnaryServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        var response = await continuation(request, gzip);
        await gzip.EnsureHeadersWrittenAsync();
        return response;
    }

    private async Task<TResponse> BoundedAsync<TResponse>(Task<TResponse> call)
    {
        try
        {
            return await call;
        }
        catch (RpcException e) when (StatusBounds.Bound(e) is var bounded && bounded != e)
        {
            throw bounded;
        }
        catch (Exception e) when (e is not RpcException && transientFailures.Matches(e))
        {
            throw Unavailable(e);
        }
    }

    /// <summary>A dependency failed for a moment (a silo of the cluster died, say): the call is worth making again.</summary>
    private static RpcException Unavailable(Exception exception) =>
        new(new Status(StatusCode.Unavailable, "The service is briefly unavailable; please try again.", exception));

    private void Admit(ServerCallContext context)
    {
        var policy = policies.Find(context.Method)
            ?? throw new RpcException(new Status(StatusCode.PermissionDenied, $"{context.Method} declares no access, so no one may call it."));
        if (!policy.Access.IsAnonymous)
        {
            var caller = context.GetHttpContext().User.ToCaller();
            if (policy.Access.Check(caller) is { } refusal)
            {
                throw refusal;
            }

            if (policy.ChangesData)
            {
                writeLimits.Acquire(caller);
            }
        }
    }

    private void CheckInput<TRequest>(TRequest request)
    {
        if (request is IMessage message)
        {
            InputLimits.Check(message, _options);
        }
    }

    /// <summary>Checks each message of a request stream as the handler reads it.</summary>
    private sealed class CheckedReader<T>(IAsyncStreamReader<T> inner, RpcPolicyInterceptor interceptor) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken))
            {
                return false;
            }

            interceptor.CheckInput(inner.Current);
            return true;
        }
    }
}
