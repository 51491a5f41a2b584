using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Transformation.GrpcHosting;

/// <summary>What a handler knows about its call, and the metadata it sends back.</summary>
public sealed class ServerCallContext
{
    internal ServerCallContext(HttpContext httpContext, string method, Metadata requestHeaders, DateTime deadline, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        Method = method;
        RequestHeaders = requestHeaders;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The full method path, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    public Metadata RequestHeaders { get; }

    /// <summary>Sent with the first response message, or with the status if there is none.</summary>
    public Metadata ResponseHeaders { get; } = [];

    /// <summary>Sent with the status at the end of the call.</summary>
    public Metadata ResponseTrailers { get; } = [];

    /// <summary>When the caller stops waiting (UTC); <see cref="DateTime.MaxValue"/> without a deadline.</summary>
    public DateTime Deadline { get; }

    /// <summary>Fires when the caller cancels, the connection drops or the deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    public HttpContext HttpContext { get; }

    public string Peer => $"{HttpContext.Connection.RemoteIpAddress}:{HttpContext.Connection.RemotePort}";
}

/// <summary>Writes a handler's response messages; each write waits for HTTP/2 flow control, so a slow reader slows the writer.</summary>
public sealed class ServerStreamWriter<T>
    where T : IMessage<T>
{
    private readonly ServerCall _call;

    internal ServerStreamWriter(ServerCall call) => _call = call;

    public Task WriteAsync(T message) => _call.WriteMessageAsync(message, flush: true);
}
