using System.Net;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Transformation.GrpcHosting;

/// <summary>
/// Calls gRPC services over one HttpClient (HTTP/2: h2c with prior knowledge for http://, ALPN for https://),
/// which pools and reuses its connections. Methods are named by their generated descriptors.
/// </summary>
public sealed class GrpcClient(HttpClient http, int maxReceiveMessageSize = 4 * 1024 * 1024) : IDisposable
{
    internal HttpClient Http { get; } = http;

    internal int MaxReceiveMessageSize { get; } = maxReceiveMessageSize;

    /// <summary>A client for <paramref name="address"/> on its own pooled HTTP/2 handler.</summary>
    public static GrpcClient Create(Uri address, int maxReceiveMessageSize = 4 * 1024 * 1024)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        var http = new HttpClient(handler)
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        return new GrpcClient(http, maxReceiveMessageSize);
    }

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions? options = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        await using var call = new ClientCall<TRequest, TResponse>(this, method, options ?? new CallOptions(), request);
        return await call.ReadSingleAsync();
    }

    /// <summary>Starts a server-streaming call; read with <see cref="ClientCall{TRequest,TResponse}.ReadAllAsync"/>.</summary>
    public ClientCall<TRequest, TResponse> ServerStreaming<TRequest, TResponse>(MethodDescriptor method, TRequest request, CallOptions? options = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(this, method, options ?? new CallOptions(), request);

    /// <summary>Starts a client-streaming or bidirectional call: write, complete the request, then read.</summary>
    public ClientCall<TRequest, TResponse> Streaming<TRequest, TResponse>(MethodDescriptor method, CallOptions? options = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(this, method, options ?? new CallOptions(), null);

    public void Dispose() => Http.Dispose();
}
