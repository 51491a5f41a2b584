using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>
/// The server ends a call at its grpc-timeout even when the handler ignores its token. The caller here is a raw
/// HTTP/2 request with no timer of its own, so whatever status it gets, the server sent.
/// </summary>
public sealed class DeadlineTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ADeadlineEndsAUnaryCallWhileItsHandlerIgnoringTheTokenStillRuns()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var http = ServerTests.RawClient();
        using var response = await http.SendAsync(Request("Echo", new EchoRequest { IgnoreCancellationMs = 5_000, Marker = marker }), ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        var handlerFinished = server.Observations.WasReported($"{marker}/finished");

        handlerFinished.ShouldBeFalse("the status should come at the deadline, not when the handler returns");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues("grpc-status").ShouldBe(["4"]); // Trailers-Only: nothing was sent before the deadline
        body.ShouldBeEmpty();

        // The middleware still waits for the handler, which then ends normally.
        await server.Observations.WhenReported($"{marker}/finished").WaitAsync(Generous, ct);
    }

    [Fact]
    public async Task ADeadlineEndsAServerStreamAfterTheMessagesAlreadySentAndLaterWritesFail()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var http = ServerTests.RawClient();
        using var response = await http.SendAsync(
            Request("Countdown", new CountdownRequest { Count = 3, PayloadSize = 16, IgnoreCancellationMs = 5_000, Marker = marker }), ct);
        var body = new ReadOnlySequence<byte>(await response.Content.ReadAsByteArrayAsync(ct));
        var handlerFinished = server.Observations.WasReported($"{marker}/late-write");

        handlerFinished.ShouldBeFalse("the status should come at the deadline, not when the handler returns");
        var indexes = new List<int>();
        while (MessageFraming.TryReadFrame(ref body, 1024, out var compressed, out var payload))
        {
            compressed.ShouldBeFalse();
            indexes.Add(CountdownResponse.Parser.ParseFrom(payload).Index);
        }

        indexes.ShouldBe([3, 2, 1]);
        body.Length.ShouldBe(0, "nothing may follow the last whole message");
        response.Headers.Contains("grpc-status").ShouldBeFalse();
        response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["4"]);

        // The handler's write after the deadline fails instead of reaching the finished stream.
        (await server.Observations.WhenReported($"{marker}/late-write").WaitAsync(Generous, ct)).ShouldBe("RpcException DeadlineExceeded");
    }

    [Fact]
    public async Task AHandlerFinishingBeforeItsDeadlineIsUnaffected()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = ServerTests.RawClient();
        using var response = await http.SendAsync(Request("Countdown", new CountdownRequest { Count = 5 }, timeout: "30S"), ct);
        var body = new ReadOnlySequence<byte>(await response.Content.ReadAsByteArrayAsync(ct));
        var count = 0;
        while (MessageFraming.TryReadFrame(ref body, 1024, out _, out _))
        {
            count++;
        }

        count.ShouldBe(5);
        response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["0"]);
    }

    private HttpRequestMessage Request(string method, IMessage message, string timeout = "200m")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address, $"/transformation.testing.v1.TestService/{method}"))
        {
            Content = new ByteArrayContent(MessageFraming.ToFrame(message, gzip: false)),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        return request;
    }
}
