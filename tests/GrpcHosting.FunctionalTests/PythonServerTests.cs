using System.Diagnostics;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Net.Client;
using Transformation.TestSupport;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>A grpcio server process for our client to call.</summary>
public sealed class PythonServer : IAsyncLifetime
{
    private Process? _process;

    public GrpcTestClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _process = PythonProcess.Start("interop_server.py", GrpcServerFixture.WriteDescriptorSet());
        var port = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30))
            ?? throw new InvalidOperationException(await _process.StandardError.ReadToEndAsync());
        // Grpc.Net.Client's own receive limit (4 MiB), which the size tests check.
        Client = new GrpcTestClient(GrpcChannel.ForAddress($"http://127.0.0.1:{port.Trim()}"));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_process is not null)
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill();
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}

/// <summary>Acceptance 1, other direction: our client calls a grpcio server.</summary>
public sealed class PythonServerTests(PythonServer server) : IClassFixture<PythonServer>
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private static readonly Google.Protobuf.Reflection.MethodDescriptor Echo = Service.FindMethodByName("Echo");

    private GrpcTestClient Client => server.Client;

    /// <summary>Asks the grpcio server what it saw of the marked call until it is <paramref name="expected"/> (30 s at most).</summary>
    private async Task<string> WhenSeenAsync(string marker, string expected)
    {
        var seen = "";
        for (var attempt = 0; attempt < 300 && seen != expected; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }

            seen = (await Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Marker = marker })).Text;
        }

        return seen;
    }

    [Fact]
    public async Task UnaryCallReturnsTheEcho()
    {
        var response = await Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Text = "hello" }, GrpcTestClient.As(null, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        response.Text.ShouldBe("hello");
    }

    [Fact]
    public async Task MetadataIncludingBinaryIsSentAndReceived()
    {
        var headers = new Metadata { { "x-text", "plain value" }, { "x-data-bin", new byte[] { 0, 1, 0xfe, 0xff } } };
        var method = GrpcTestClient.Method<EchoRequest, EchoResponse>(Echo);
        using var call = Client.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(headers), new EchoRequest { Text = "m" });
        var responseHeaders = await call.ResponseHeadersAsync;
        (await call.ResponseAsync).Text.ShouldBe("m");
        responseHeaders.GetValue("x-text").ShouldBe("plain value");
        call.GetTrailers().GetValueBytes("x-data-bin").ShouldBe(new byte[] { 0, 1, 0xfe, 0xff });
        call.GetStatus().StatusCode.ShouldBe(StatusCode.OK);
    }

    [Fact]
    public async Task TraceparentIsSentFromTheCurrentActivity()
    {
        using var activity = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();
        var response = await Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest());
        response.TraceId.ShouldBe(activity.TraceId.ToString());
    }

    [Fact]
    public async Task ServerStreamingReadsEveryMessage()
    {
        using var call = Client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"), new CountdownRequest { Count = 50 });
        var indexes = await call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken).Select(r => r.Index).ToListAsync(TestContext.Current.CancellationToken);
        indexes.ShouldBe(Enumerable.Range(1, 50).Reverse());
    }

    [Fact]
    public async Task ClientStreamingSendsEveryMessage()
    {
        using var call = Client.ClientStreaming<SumRequest, SumResponse>(Service.FindMethodByName("Sum"));
        for (var i = 1; i <= 100; i++)
        {
            await call.RequestStream.WriteAsync(new SumRequest { Value = i }, TestContext.Current.CancellationToken);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call.ResponseAsync;
        response.Total.ShouldBe(5050);
        response.Count.ShouldBe(100);
    }

    [Fact]
    public async Task BidirectionalStreamingInterleavesWritesAndReads()
    {
        using var call = Client.Duplex<EchoRequest, EchoResponse>(Service.FindMethodByName("Chat"));
        await using var responses = call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken).GetAsyncEnumerator(TestContext.Current.CancellationToken);
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" }, TestContext.Current.CancellationToken);
            (await responses.MoveNextAsync()).ShouldBeTrue();
            responses.Current.Text.ShouldBe($"M{i}");
        }

        await call.RequestStream.CompleteAsync();
        (await responses.MoveNextAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task AnExpiredDeadlineIsDeadlineExceeded()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { DelayMs = 10_000 }, GrpcTestClient.As(null, TimeSpan.FromMilliseconds(300))));
        failure.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
    }

    [Fact]
    public async Task CancellationEndsTheCallAsCancelled()
    {
        using var cancellation = new CancellationTokenSource();
        var call = Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { DelayMs = 10_000 }, new CallOptions(cancellationToken: cancellation.Token));
        await cancellation.CancelAsync();
        (await Should.ThrowAsync<RpcException>(() => call)).StatusCode.ShouldBe(StatusCode.Cancelled);
    }

    [Fact]
    public async Task CancellingOnlyTheCallersTokenStopsAServerStreamOnTheGrpcioServer()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N");
        using var cancellation = new CancellationTokenSource();
        using var call = Client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"),
            new CountdownRequest { Count = 1_000, IntervalMs = 100, Marker = marker }, new CallOptions(cancellationToken: cancellation.Token));
        await using var responses = call.ResponseStream.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        (await responses.MoveNextAsync()).ShouldBeTrue();

        await cancellation.CancelAsync();

        (await WhenSeenAsync(marker, "cancelled")).ShouldBe("cancelled");
        (await Should.ThrowAsync<RpcException>(async () => await responses.MoveNextAsync())).StatusCode.ShouldBe(StatusCode.Cancelled);
    }

    [Fact]
    public async Task CancellingOnlyTheCallersTokenStopsAClientStreamOnTheGrpcioServer()
    {
        var marker = Guid.NewGuid().ToString("N");
        using var cancellation = new CancellationTokenSource();
        using var call = Client.ClientStreaming<SumRequest, SumResponse>(Service.FindMethodByName("Sum"), new CallOptions(cancellationToken: cancellation.Token));
        await call.RequestStream.WriteAsync(new SumRequest { Value = 1, Marker = marker }, TestContext.Current.CancellationToken);
        (await WhenSeenAsync(marker, "started")).ShouldBe("started");

        await cancellation.CancelAsync();

        (await WhenSeenAsync(marker, "cancelled")).ShouldBe("cancelled");
        (await Should.ThrowAsync<RpcException>(() => call.RequestStream.WriteAsync(new SumRequest { Value = 2 }, TestContext.Current.CancellationToken))).StatusCode.ShouldBe(StatusCode.Cancelled);
    }

    [Fact]
    public async Task ValidationFailureSurfacesWithBadRequestDetails()
    {
        var failure = await Should.ThrowAsync<RpcException>(() => Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Validate = true }));
        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.Status.Detail.ShouldBe("The request is invalid.");
        failure.GetRpcStatus()!.Code.ShouldBe(3);
        var violation = failure.GetDetail<BadRequest>()!.FieldViolations.ShouldHaveSingleItem();
        violation.Field.ShouldBe("text");
        violation.Description.ShouldBe("must not be empty");
    }

    [Fact]
    public async Task StatusCodeAndMessageAreDecoded()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { FailCode = 9, FailMessage = "nicht bereit: 100% – ü" }));
        failure.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        failure.Status.Detail.ShouldBe("nicht bereit: 100% – ü");
    }

    [Fact]
    public async Task GzipIsSentAndReceived()
    {
        var response = await Client.UnaryAsync<EchoRequest, EchoResponse>(Echo,
            new EchoRequest { Payload = ByteString.CopyFrom(new byte[100_000]), ResponseSize = 50_000 }, ServerTests.Gzip());
        // grpcio hides grpc-encoding from its handlers; the decompressed size shows the gzip request was read.
        response.PayloadSize.ShouldBe(100_000);
        response.Payload.Length.ShouldBe(50_000);
    }

    [Fact]
    public async Task AResponseOverTheReceiveLimitIsResourceExhausted()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { ResponseSize = (4 * 1024 * 1024) + 1 }));
        failure.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task AResponseNearTheReceiveLimitIsRead()
    {
        var response = await Client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { ResponseSize = (4 * 1024 * 1024) - 64 });
        response.Payload.Length.ShouldBe((4 * 1024 * 1024) - 64);
    }
}
