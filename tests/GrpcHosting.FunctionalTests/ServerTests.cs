using System.Net;
using Google.Protobuf;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Transformation.ServiceDefaults;
using Transformation.TestSupport;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Grpc.Net.Client against our server, and the server's answers to requests no gRPC client would send.</summary>
public sealed class ServerTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private static readonly Google.Protobuf.Reflection.MethodDescriptor Echo = Service.FindMethodByName("Echo");

    [Fact]
    public async Task CallsReuseOneConnection()
    {
        using var client = GrpcTestClient.Create(server.Address);
        server.Observations.ConnectionIds.Clear(); // tests of one class run one at a time
        var marker = Guid.NewGuid().ToString();
        for (var i = 0; i < 20; i++)
        {
            (await client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Text = marker })).Text.ShouldBe(marker);
        }

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest())));
        server.Observations.ConnectionIds.Count.ShouldBe(40);
        server.Observations.ConnectionIds.Distinct().Count().ShouldBe(1);
    }

    [Fact]
    public async Task ADeclaredTransientFailureIsUnavailableWithoutItsTextAndAnyOtherUnknown()
    {
        using var client = GrpcTestClient.Create(server.Address);

        var transient = await Should.ThrowAsync<Grpc.Core.RpcException>(
            client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { DependencyTimeout = true }));
        var unexpected = await Should.ThrowAsync<Grpc.Core.RpcException>(client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Crash = true }));

        (transient.StatusCode, transient.Status.Detail).ShouldBe((Grpc.Core.StatusCode.Unavailable, "The service is briefly unavailable; please try again."));
        unexpected.StatusCode.ShouldBe(Grpc.Core.StatusCode.Unknown);
        unexpected.Status.Detail.ShouldNotContain("secret");
    }

    [Fact]
    public async Task GzipRequestsAreAnsweredWithGzip()
    {
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        var response = await client.UnaryAsync<EchoRequest, EchoResponse>(Echo,
            new EchoRequest { Payload = ByteString.CopyFrom(new byte[10_000]), ResponseSize = 10_000 }, Gzip());
        response.RequestEncoding.ShouldBe("gzip");
        response.Payload.Length.ShouldBe(10_000);
        wire.Response.Headers.GetValues("grpc-encoding").ShouldBe(["gzip"]);
    }

    [Fact]
    public async Task AGzipServerStreamIsAnsweredWithGzip()
    {
        var ct = TestContext.Current.CancellationToken;
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        var options = Gzip().WithCancellationToken(ct);
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(Service.FindMethodByName("Countdown"), new CountdownRequest { Count = 3, PayloadSize = 10_000 }, options);

        (await call.ResponseStream.ReadAllAsync(ct).Select(r => r.Payload.Length).ToListAsync(ct)).ShouldBe([10_000, 10_000, 10_000]);
        wire.Response.Headers.GetValues("grpc-encoding").ShouldBe(["gzip"]);
    }

    [Fact]
    public async Task AHandlerWritingItsOwnResponseHeadersAnswersAGzipRequestWithGzip()
    {
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        var options = Gzip();
        options.Headers!.Add("x-text", "plain value");

        var response = await client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Text = "m", ResponseSize = 10_000 }, options);

        response.Payload.Length.ShouldBe(10_000);
        wire.Response.Headers.GetValues("x-text").ShouldBe(["plain value"]);
        wire.Response.Headers.GetValues("grpc-encoding").ShouldBe(["gzip"]);
    }

    [Fact]
    public async Task AFailureBeforeAnyMessageIsTrailersOnly()
    {
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        var failure = await Should.ThrowAsync<RpcException>(() =>
            client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { FailCode = 5, FailMessage = "gone" }));

        failure.StatusCode.ShouldBe(StatusCode.NotFound);
        failure.Status.Detail.ShouldBe("gone");
        wire.Response.StatusCode.ShouldBe(HttpStatusCode.OK);
        wire.Response.Headers.GetValues("grpc-status").ShouldBe(["5"]);
        wire.Response.Headers.GetValues("grpc-message").ShouldBe(["gone"]);
        wire.Response.TrailingHeaders.ShouldBeEmpty();
    }

    [Fact]
    public async Task ASuccessfulCallEndsWithStatusInTrailers()
    {
        var (client, wire) = WireRecorder.Client(server.Address);
        using var _ = client;
        (await client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { Text = "x" })).Text.ShouldBe("x");

        wire.Response.Headers.Contains("grpc-status").ShouldBeFalse();
        wire.Response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["0"]);
    }

    [Theory]
    [InlineData("text/plain", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/grpcx", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/grpc+proto", HttpStatusCode.OK)]
    [InlineData("application/GRPC", HttpStatusCode.OK)]
    public async Task ANonGrpcContentTypeIsRefusedWith415(string contentType, HttpStatusCode expected)
    {
        using var http = RawRequests.Client();
        using var request = RawRequests.Create(server.Address, "/transformation.testing.v1.TestService/Echo", RawRequests.Frame(new EchoRequest()), contentType);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(expected);
    }

    /// <summary>Grpc.AspNetCore looks at grpc-encoding only when a message is compressed, as the gRPC compression spec asks.</summary>
    [Fact]
    public async Task AMessageInAnUnknownEncodingIsUnimplementedAndListsTheSupportedOnes()
    {
        using var http = RawRequests.Client();
        using var request = RawRequests.Create(server.Address, "/transformation.testing.v1.TestService/Echo", RawRequests.Frame([1, 2, 3], flag: 1));
        request.Headers.Add("grpc-encoding", "snappy");
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        response.Headers.GetValues("grpc-status").ShouldBe(["12"]);
        response.Headers.GetValues("grpc-accept-encoding").Single().ShouldContain("gzip");
    }

    [Fact]
    public async Task HealthWatchFollowsReadiness()
    {
        using var client = GrpcTestClient.Create(server.Address);
        var watch = Health.Descriptor.FindMethodByName("Watch");
        using var call = client.ServerStreaming<HealthCheckRequest, HealthCheckResponse>(watch, new HealthCheckRequest());
        var updates = call.ResponseStream;
        var ct = TestContext.Current.CancellationToken;
        try
        {
            (await updates.MoveNext(ct)).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
            server.Readiness.Ready = false;
            (await updates.MoveNext(ct)).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.NotServing);
            server.Readiness.Ready = true;
            (await updates.MoveNext(ct)).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
        }
        finally
        {
            server.Readiness.Ready = true;
        }
    }

    [Fact]
    public async Task HealthCheckAnswersForEachMappedServiceAndNotFoundForOthers()
    {
        using var client = GrpcTestClient.Create(server.Address);
        var check = Health.Descriptor.FindMethodByName("Check");

        (await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(check, new HealthCheckRequest { Service = Service.FullName }))
            .Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
        (await Should.ThrowAsync<RpcException>(() => client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(check, new HealthCheckRequest { Service = "nope.v1.Nothing" })))
            .StatusCode.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task AClientDeadlineCancelsTheHandler()
    {
        using var client = GrpcTestClient.Create(server.Address);
        var before = server.Observations.CancelledHandlers;
        // Two seconds, so that even a busy machine has dispatched the call to its handler when the deadline falls (the client
        // resets the stream at its deadline: a call reset before dispatch never reaches a handler to cancel).
        var failure = await Should.ThrowAsync<RpcException>(() =>
            client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { DelayMs = 60_000 }, GrpcTestClient.As(null, TimeSpan.FromSeconds(2))));
        failure.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
        for (var i = 0; i < 600 && server.Observations.CancelledHandlers == before; i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        server.Observations.CancelledHandlers.ShouldBeGreaterThan(before);
    }

    [Fact]
    public void StartupFailsNamingAMethodWithoutImplementation()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Service:Name"] = "broken", ["Service:GrpcPort"] = "0", ["Service:HttpPort"] = "0" });
        builder.AddServiceDefaults();
        builder.AddGrpcHosting();
        using var app = builder.Build();
        var failure = Should.Throw<InvalidOperationException>(() => app.MapGrpcService<IncompleteService>(RpcAccessMap.ForAll(Service, RpcAccess.Anonymous)));
        failure.Message.ShouldContain("/transformation.testing.v1.TestService/Countdown");
        failure.Message.ShouldContain("/transformation.testing.v1.TestService/Sum");
        failure.Message.ShouldContain("/transformation.testing.v1.TestService/Chat");
        failure.Message.ShouldNotContain("/Echo");
        failure.Message.ShouldContain("does not override");
    }

    /// <summary>Call options asking Grpc.Net.Client to compress the request with gzip.</summary>
    internal static CallOptions Gzip() => new(new Metadata { { "grpc-internal-encoding-request", "gzip" } });

    private sealed class IncompleteService : Transformation.Testing.V1.TestService.TestServiceBase
    {
        public override Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoResponse());
    }
}
