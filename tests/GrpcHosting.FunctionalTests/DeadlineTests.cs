using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>
/// The server ends a call at its grpc-timeout even when the handler ignores its token. The caller here sends the
/// grpc-timeout header itself and has no timer of its own, so whatever status it gets, the server sent.
/// </summary>
public sealed class DeadlineTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ADeadlineEndsAUnaryCallWhileItsHandlerIgnoringTheTokenStillRuns()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        wire.ExtraRequestHeaders["grpc-timeout"] = "200m";

        var failure = await Should.ThrowAsync<RpcException>(() => client.UnaryAsync<EchoRequest, EchoResponse>(Service.FindMethodByName("Echo"),
            new EchoRequest { IgnoreCancellationMs = 5_000, Marker = marker }, new CallOptions(cancellationToken: ct)));
        var handlerFinished = server.Observations.WasReported($"{marker}/finished");

        handlerFinished.ShouldBeFalse("the status should come at the deadline, not when the handler returns");
        failure.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
        wire.Response.Headers.GetValues("grpc-status").ShouldBe(["4"]); // Trailers-Only: nothing was sent before the deadline

        // The server still waits for the handler, which then ends normally.
        await server.Observations.WhenReported($"{marker}/finished").WaitAsync(Generous, ct);
    }

    [Fact]
    public async Task ADeadlineEndsAServerStreamAfterTheMessagesAlreadySentAndLaterWritesFail()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        // Long enough for a cold server to write the three messages first; the handler then sleeps well past it.
        wire.ExtraRequestHeaders["grpc-timeout"] = "2S";
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"),
            new CountdownRequest { Count = 3, PayloadSize = 16, IgnoreCancellationMs = 10_000, Marker = marker }, new CallOptions(cancellationToken: ct));

        var indexes = new List<int>();
        var failure = await Should.ThrowAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(ct))
            {
                indexes.Add(call.ResponseStream.Current.Index);
            }
        });
        var handlerFinished = server.Observations.WasReported($"{marker}/late-write");

        handlerFinished.ShouldBeFalse("the status should come at the deadline, not when the handler returns");
        indexes.ShouldBe([3, 2, 1]);
        failure.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
        wire.Response.Headers.Contains("grpc-status").ShouldBeFalse();
        wire.Response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["4"]);

        // The handler's write after the deadline fails instead of reaching the finished stream (Grpc.AspNetCore: "Can't write
        // the message because the request is complete.").
        (await server.Observations.WhenReported($"{marker}/late-write").WaitAsync(Generous, ct)).ShouldBe(nameof(InvalidOperationException));
    }

    [Fact]
    public async Task AHandlerFinishingBeforeItsDeadlineIsUnaffected()
    {
        var ct = TestContext.Current.CancellationToken;
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        wire.ExtraRequestHeaders["grpc-timeout"] = "30S";
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"),
            new CountdownRequest { Count = 5 }, new CallOptions(cancellationToken: ct));

        (await call.ResponseStream.ReadAllAsync(ct).CountAsync(ct)).ShouldBe(5);
        call.GetStatus().StatusCode.ShouldBe(StatusCode.OK);
        wire.Response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["0"]);
    }
}
