using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;

namespace Transformation.TestSupport;

/// <summary>
/// A Grpc.Net.Client channel to a service under test, calling any RPC by its proto descriptor: tests and access
/// matrices walk a service's methods by name, which the generated clients (one method per RPC) cannot do.
/// </summary>
public sealed class GrpcTestClient(GrpcChannel channel) : IDisposable
{
    public GrpcChannel Channel { get; } = channel;

    private CallInvoker Invoker { get; } = channel.CreateCallInvoker();

    public static GrpcTestClient Create(Uri address, int maxReceiveMessageSize = 64 * 1024 * 1024) =>
        new(GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = maxReceiveMessageSize }));

    /// <summary>Call options carrying <paramref name="token"/> as a bearer token (none when null).</summary>
    public static CallOptions As(string? token, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        return new CallOptions(headers, timeout is { } t ? DateTime.UtcNow + t : null, cancellationToken);
    }

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        await Invoker.AsyncUnaryCall(Method<TRequest, TResponse>(method), null, options, request);

    public AsyncServerStreamingCall<TResponse> ServerStreaming<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Invoker.AsyncServerStreamingCall(Method<TRequest, TResponse>(method), null, options, request);

    public AsyncClientStreamingCall<TRequest, TResponse> ClientStreaming<TRequest, TResponse>(MethodDescriptor method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Invoker.AsyncClientStreamingCall(Method<TRequest, TResponse>(method), null, options);

    /// <summary>
    /// Sends <paramref name="messages"/> on a client-streaming call and returns its answer. When the service ends the call
    /// while messages are still being written (a refusal, say), the write in flight fails however the race falls (CANCELLED,
    /// or the call already complete); the call's own status, read with its response, is what is thrown.
    /// </summary>
    public async Task<TResponse> ClientStreamAsync<TRequest, TResponse>(MethodDescriptor method, IEnumerable<TRequest> messages, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(messages);
        using var call = ClientStreaming<TRequest, TResponse>(method, options);
        try
        {
            foreach (var message in messages)
            {
                await call.RequestStream.WriteAsync(message);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            await call.ResponseAsync; // throws the status the service ended the call with
            throw;
        }

        return await call.ResponseAsync;
    }

    public AsyncDuplexStreamingCall<TRequest, TResponse> Duplex<TRequest, TResponse>(MethodDescriptor method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Invoker.AsyncDuplexStreamingCall(Method<TRequest, TResponse>(method), null, options);

    public void Dispose() => Channel.Dispose();

    /// <summary>The Grpc.Core method for a proto method, with the message types' own parsers.</summary>
    public static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodDescriptor method)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        var type = (method.IsClientStreaming, method.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (false, true) => MethodType.ServerStreaming,
            (true, false) => MethodType.ClientStreaming,
            (true, true) => MethodType.DuplexStreaming,
        };
        var requests = (MessageParser<TRequest>)method.InputType.Parser;
        var responses = (MessageParser<TResponse>)method.OutputType.Parser;
        return new Method<TRequest, TResponse>(type, method.Service.FullName, method.Name,
            Marshallers.Create(m => m.ToByteArray(), requests.ParseFrom), Marshallers.Create(m => m.ToByteArray(), responses.ParseFrom));
    }
}
