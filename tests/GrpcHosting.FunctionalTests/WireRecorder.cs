using System.Collections.Concurrent;
using Grpc.Net.Client;
using Transformation.TestSupport;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>
/// The HTTP layer under a Grpc.Net.Client channel: keeps every response, so a test can see where the status travelled
/// (Trailers-Only headers or trailers) and the response's grpc-encoding, and adds request headers the client would
/// not send itself (a grpc-timeout with no client-side timer, so whatever status comes back, the server sent it).
/// </summary>
internal sealed class WireRecorder() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentQueue<HttpResponseMessage> _responses = new();

    public Dictionary<string, string> ExtraRequestHeaders { get; } = new(StringComparer.Ordinal);

    /// <summary>The response of the only call made so far.</summary>
    public HttpResponseMessage Response => _responses.ShouldHaveSingleItem();

    /// <summary>A client whose calls all go through a new recorder.</summary>
    public static (GrpcTestClient Client, WireRecorder Recorder) Client(Uri address)
    {
        var recorder = new WireRecorder();
        return (new GrpcTestClient(GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = recorder, DisposeHttpClient = true })), recorder);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        foreach (var (name, value) in ExtraRequestHeaders)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var response = await base.SendAsync(request, cancellationToken);
        _responses.Enqueue(response);
        return response;
    }
}
