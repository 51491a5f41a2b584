using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Transformation.GrpcHosting.Health.V1;
using Transformation.ServiceDefaults;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Our client against our server, and the server's answers to requests no gRPC client would send.</summary>
public sealed class ServerTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private static readonly Google.Protobuf.Reflection.MethodDescriptor Echo = Service.FindMethodByName("Echo");

    [Fact]
    public async Task CallsReuseOneConnection()
    {
        using var client = GrpcClient.Create(server.Address);
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
    public async Task GzipRequestsAreAnsweredWithGzip()
    {
        using var client = GrpcClient.Create(server.Address);
        var response = await client.UnaryAsync<EchoRequest, EchoResponse>(Echo,
            new EchoRequest { Payload = ByteString.CopyFrom(new byte[10_000]), ResponseSize = 10_000 }, new CallOptions { Gzip = true });
        response.RequestEncoding.ShouldBe("gzip");
        response.Payload.Length.ShouldBe(10_000);
    }

    [Fact]
    public async Task AFailureBeforeAnyMessageIsTrailersOnly()
    {
        using var http = RawClient();
        using var response = await http.SendAsync(GrpcRequest("/transformation.testing.v1.TestService/Echo",
            MessageFraming.ToFrame(new EchoRequest { FailCode = 5, FailMessage = "gone" }, gzip: false)), TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues("grpc-status").ShouldBe(["5"]);
        response.Headers.GetValues("grpc-message").ShouldBe(["gone"]);
        (await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken)).ShouldBeEmpty();
        response.TrailingHeaders.ShouldBeEmpty();
    }

    [Fact]
    public async Task ASuccessfulCallEndsWithStatusInTrailers()
    {
        using var http = RawClient();
        using var response = await http.SendAsync(GrpcRequest("/transformation.testing.v1.TestService/Echo",
            MessageFraming.ToFrame(new EchoRequest { Text = "x" }, gzip: false)), TestContext.Current.CancellationToken);
        (await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken)).Length.ShouldBeGreaterThan(5);
        response.Headers.Contains("grpc-status").ShouldBeFalse();
        response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["0"]);
    }

    [Theory]
    [InlineData("text/plain", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/grpcx", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/grpc+proto", HttpStatusCode.OK)]
    [InlineData("application/GRPC", HttpStatusCode.OK)]
    public async Task ANonGrpcContentTypeIsRefusedWith415(string contentType, HttpStatusCode expected)
    {
        using var http = RawClient();
        var request = GrpcRequest("/transformation.testing.v1.TestService/Echo", MessageFraming.ToFrame(new EchoRequest(), gzip: false));
        request.Content!.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(expected);
    }

    [Fact]
    public async Task AnUnknownEncodingIsUnimplementedAndListsTheSupportedOnes()
    {
        using var http = RawClient();
        var request = GrpcRequest("/transformation.testing.v1.TestService/Echo", MessageFraming.ToFrame(new EchoRequest(), gzip: false));
        request.Headers.Add("grpc-encoding", "snappy");
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        response.Headers.GetValues("grpc-status").ShouldBe(["12"]);
        response.Headers.GetValues("grpc-accept-encoding").Single().ShouldContain("gzip");
    }

    [Fact]
    public async Task HealthWatchFollowsReadiness()
    {
        using var client = GrpcClient.Create(server.Address);
        var watch = HealthReflection.Descriptor.Services[0].FindMethodByName("Watch");
        await using var call = client.ServerStreaming<HealthCheckRequest, HealthCheckResponse>(watch, new HealthCheckRequest());
        await using var updates = call.ReadAllAsync(TestContext.Current.CancellationToken).GetAsyncEnumerator(TestContext.Current.CancellationToken);
        try
        {
            (await updates.MoveNextAsync()).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
            server.Readiness.Ready = false;
            (await updates.MoveNextAsync()).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.NotServing);
            server.Readiness.Ready = true;
            (await updates.MoveNextAsync()).ShouldBeTrue();
            updates.Current.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
        }
        finally
        {
            server.Readiness.Ready = true;
        }
    }

    [Fact]
    public async Task AClientDeadlineCancelsTheHandler()
    {
        using var client = GrpcClient.Create(server.Address);
        var before = server.Observations.CancelledHandlers;
        // Two seconds, so that even a busy machine has dispatched the call to its handler when the deadline falls (the client
        // resets the stream at its deadline: a call reset before dispatch never reaches a handler to cancel).
        var failure = await Should.ThrowAsync<RpcException>(() =>
            client.UnaryAsync<EchoRequest, EchoResponse>(Echo, new EchoRequest { DelayMs = 60_000 }, new CallOptions { Timeout = TimeSpan.FromSeconds(2) }));
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
        app.UseGrpcHosting();
        var failure = Should.Throw<InvalidOperationException>(() => app.MapGrpcService<IncompleteService>(Service, RpcAccessMap.ForAll(Service, RpcAccess.Anonymous)));
        failure.Message.ShouldContain("/transformation.testing.v1.TestService/Countdown");
        failure.Message.ShouldContain("has no implementation");
        var mismatch = Should.Throw<InvalidOperationException>(() => app.MapGrpcService<MismatchedService>(Service, RpcAccessMap.ForAll(Service, RpcAccess.Anonymous)));
        mismatch.Message.ShouldContain("/transformation.testing.v1.TestService/Echo");
        mismatch.Message.ShouldContain("mismatched signature");
    }

    internal static HttpClient RawClient() => new(new SocketsHttpHandler())
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    internal HttpRequestMessage GrpcRequest(string path, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address, path))
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "Bound as instance methods.")]
    private sealed class IncompleteService
    {
        public Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoResponse());
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "Bound as instance methods.")]
    private sealed class MismatchedService
    {
        public Task<EchoRequest> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(request);
    }
}
