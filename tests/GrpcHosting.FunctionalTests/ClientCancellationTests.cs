using Transformation.TestSupport;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Cancelling only the caller's token (no dispose, no further read) resets the HTTP/2 stream, so the server's handler stops.</summary>
public sealed class ClientCancellationTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CancellingTheCallersTokenStopsAServerStreamOnTheServer()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var client = GrpcTestClient.Create(server.Address);
        using var cancellation = new CancellationTokenSource();
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"),
            new CountdownRequest { Count = 1_000, IntervalMs = 100, Marker = marker }, new CallOptions(cancellationToken: cancellation.Token));
        await using var responses = call.ResponseStream.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        (await responses.MoveNextAsync()).ShouldBeTrue();

        await cancellation.CancelAsync();

        await server.Observations.WhenReported($"{marker}/cancelled").WaitAsync(Generous, ct);
        (await Should.ThrowAsync<RpcException>(async () => await responses.MoveNextAsync())).StatusCode.ShouldBe(StatusCode.Cancelled);
        call.GetStatus().StatusCode.ShouldBe(StatusCode.Cancelled);
    }

    [Fact]
    public async Task CancellingTheCallersTokenStopsAClientStreamOnTheServer()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var client = GrpcTestClient.Create(server.Address);
        using var cancellation = new CancellationTokenSource();
        using var call = client.ClientStreaming<SumRequest, SumResponse>(Service.FindMethodByName("Sum"), new CallOptions(cancellationToken: cancellation.Token));
        await call.RequestStream.WriteAsync(new SumRequest { Value = 1, Marker = marker }, TestContext.Current.CancellationToken);
        await call.RequestStream.WriteAsync(new SumRequest { Value = 2 }, TestContext.Current.CancellationToken);
        await server.Observations.WhenReported($"{marker}/started").WaitAsync(Generous, ct);

        await cancellation.CancelAsync();

        await server.Observations.WhenReported($"{marker}/cancelled").WaitAsync(Generous, ct);
        (await Should.ThrowAsync<RpcException>(() => call.RequestStream.WriteAsync(new SumRequest { Value = 3 }, TestContext.Current.CancellationToken))).StatusCode.ShouldBe(StatusCode.Cancelled);
        (await Should.ThrowAsync<RpcException>(() => call.ResponseAsync)).StatusCode.ShouldBe(StatusCode.Cancelled);
    }

    [Fact]
    public async Task TheClientDeadlineStopsAServerStreamOnTheServerAndEndsTheCallWithDeadlineExceeded()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var client = GrpcTestClient.Create(server.Address);
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"),
            new CountdownRequest { Count = 1_000, IntervalMs = 100, Marker = marker }, GrpcTestClient.As(null, TimeSpan.FromSeconds(3), ct));
        await using var responses = call.ResponseStream.ReadAllAsync(ct).GetAsyncEnumerator(ct);

        // Messages until the deadline (none, on a machine too busy to start the stream in time), then DEADLINE_EXCEEDED.
        var failure = await Should.ThrowAsync<RpcException>(async () =>
        {
            while (await responses.MoveNextAsync())
            {
            }
        });
        failure.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
        await server.Observations.WhenReported($"{marker}/cancelled").WaitAsync(Generous, ct);
    }
}
