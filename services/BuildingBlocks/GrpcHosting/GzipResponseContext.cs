using Grpc.Core;

namespace Transformation.GrpcHosting;

/// <summary>
/// The call context a handler of a gzip request sees, so that the response is gzip too. Grpc.AspNetCore's per-call
/// switch for the response encoding travels with the response headers, which go out once: it is added to the headers
/// the handler writes, or, if the handler writes none, to empty ones just before the first message. A failure before
/// any message stays Trailers-Only. Everything else is the call's own context.
/// </summary>
internal sealed class GzipResponseContext : ServerCallContext
{
    private const string Gzip = "gzip";
    private readonly ServerCallContext _inner;
    private bool _headersWritten;

    private GzipResponseContext(ServerCallContext inner)
    {
        _inner = inner;
        // Where GetHttpContext() finds the HttpContext on a context that Grpc.AspNetCore did not create.
        inner.UserState["__HttpContext"] = inner.GetHttpContext();
    }

    /// <summary>A context answering with gzip when the request came in gzip; null otherwise (the call goes on as it is).</summary>
    public static GzipResponseContext? For(ServerCallContext context) =>
        context.GetHttpContext().Request.Headers["grpc-encoding"] == Gzip ? new GzipResponseContext(context) : null;

    /// <summary>Writes the headers, with the switch, unless the handler has.</summary>
    public Task EnsureHeadersWrittenAsync() => _headersWritten ? Task.CompletedTask : WriteResponseHeadersAsync([]);

    public IServerStreamWriter<T> Writer<T>(IServerStreamWriter<T> inner) => new GzipWriter<T>(inner, this);

    protected override string MethodCore => _inner.Method;

    protected override string HostCore => _inner.Host;

    protected override string PeerCore => _inner.Peer;

    protected override DateTime DeadlineCore => _inner.Deadline;

    protected override Metadata RequestHeadersCore => _inner.RequestHeaders;

    protected override CancellationToken CancellationTokenCore => _inner.CancellationToken;

    protected override Metadata ResponseTrailersCore => _inner.ResponseTrailers;

    protected override Status StatusCore { get => _inner.Status; set => _inner.Status = value; }

    protected override WriteOptions? WriteOptionsCore { get => _inner.WriteOptions; set => _inner.WriteOptions = value; }

    protected override AuthContext AuthContextCore => _inner.AuthContext;

    protected override IDictionary<object, object> UserStateCore => _inner.UserState;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => _inner.CreatePropagationToken(options);

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders)
    {
        _headersWritten = true;
        responseHeaders.Add("grpc-internal-encoding-request", Gzip); // Grpc.AspNetCore reads it and does not send it
        return _inner.WriteResponseHeadersAsync(responseHeaders);
    }

    private sealed class GzipWriter<T>(IServerStreamWriter<T> inner, GzipResponseContext context) : IServerStreamWriter<T>
    {
        public WriteOptions? WriteOptions { get => inner.WriteOptions; set => inner.WriteOptions = value; }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            await context.EnsureHeadersWrittenAsync();
            await inner.WriteAsync(message, cancellationToken);
        }
    }
}
