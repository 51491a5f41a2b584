using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Every RPC declares who may call it; the server refuses others before the handler runs.</summary>
public sealed class AccessTests : IAsyncLifetime
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = TestReflection.Descriptor.Services[0];
    private readonly TestIdentity _identity = new();
    private readonly ServerObservations _observations = new();
    private WebApplication? _app;
    private GrpcTestClient? _client;

    public async ValueTask InitializeAsync()
    {
        var port = GrpcServerFixture.FreePort();
        _app = Build(port);
        _app.MapGrpcService<TestService>(new RpcAccessMap
        {
            ["Echo"] = RpcAccess.Roles(Roles.Hr, Roles.Service),
            ["Countdown"] = RpcAccess.SignedIn,
            ["Sum"] = RpcAccess.Anonymous,
            ["Chat"] = RpcAccess.SignedIn,
        });
        await _app.StartAsync(TestContext.Current.CancellationToken);
        _client = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        await _app!.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task ACallWithoutATokenIsUnauthenticatedAndNeverReachesTheHandler()
    {
        var failure = await Should.ThrowAsync<RpcException>(() => EchoAsync(token: null));

        failure.StatusCode.ShouldBe(StatusCode.Unauthenticated);
        _observations.ConnectionIds.ShouldBeEmpty();
    }

    [Fact]
    public async Task AStreamingCallerStillWritingWhenRefusedSeesTheRefusalNotABrokenStream()
    {
        // More than the HTTP/2 flow-control window, so writes are in flight when the server answers UNAUTHENTICATED and closes the stream.
        var ct = TestContext.Current.CancellationToken;
        using var call = _client!.Duplex<EchoRequest, EchoResponse>(Service.FindMethodByName("Chat"));

        // The writes stop at the refusal. The one in flight when the server resets the stream may end as CANCELLED
        // (Grpc.Net.Client's write can lose the race with reading the refusal); the call's status is the refusal.
        await Should.ThrowAsync<RpcException>(async () =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = new string('x', 1_000) }, ct);
            }
        });
        var failure = await Should.ThrowAsync<RpcException>(() => call.ResponseStream.MoveNext(ct));

        failure.StatusCode.ShouldBe(StatusCode.Unauthenticated);
        _observations.ConnectionIds.ShouldBeEmpty();
    }

    [Fact]
    public async Task ACallerWithoutADeclaredRoleIsDeniedAndNeverReachesTheHandler()
    {
        var failure = await Should.ThrowAsync<RpcException>(() => EchoAsync(_identity.TokenFor("emp-1", Roles.Employee, Roles.Executive)));

        failure.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        failure.Status.Detail.ShouldBe("This call needs one of the roles: hr, service.");
        _observations.ConnectionIds.ShouldBeEmpty();
    }

    [Fact]
    public async Task ACallerWithADeclaredRoleIsServed()
    {
        (await EchoAsync(_identity.TokenFor("emp-2", Roles.Hr))).Text.ShouldBe("hello");
        (await EchoAsync(_identity.TokenFor("incentives", Roles.Service))).Text.ShouldBe("hello");
    }

    [Fact]
    public void MappingFailsNamingAMethodWithoutDeclaredAccess()
    {
        using var app = Build(GrpcServerFixture.FreePort());
        var partial = RpcAccessMap.ForAll(Service, RpcAccess.SignedIn);
        partial.Remove("Sum");

        var failure = Should.Throw<InvalidOperationException>(() => app.MapGrpcService<TestService>(partial));

        failure.Message.ShouldContain("/transformation.testing.v1.TestService/Sum");
        failure.Message.ShouldContain("declares no access");
    }

    [Fact]
    public void MappingFailsWhenTheAccessMapNamesAMethodTheServiceLacks()
    {
        using var app = Build(GrpcServerFixture.FreePort());
        var map = RpcAccessMap.ForAll(Service, RpcAccess.SignedIn);
        map["Echoo"] = RpcAccess.Anonymous;

        Should.Throw<InvalidOperationException>(() => app.MapGrpcService<TestService>(map)).Message.ShouldContain("Echoo");
    }

    [Fact]
    public void MappingFailsWithoutOurPolicies()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGrpc();
        using var app = builder.Build();

        Should.Throw<InvalidOperationException>(() => app.MapGrpcService<TestService>(RpcAccessMap.ForAll(Service, RpcAccess.SignedIn)))
            .Message.ShouldContain("AddGrpcHosting");
    }

    private WebApplication Build(int port)
    {
        var builder = SignedInHost.CreateBuilder("access-test", port, _identity);
        builder.Services.AddSingleton(_observations);
        return builder.Build();
    }

    private Task<EchoResponse> EchoAsync(string? token) =>
        _client!.UnaryAsync<EchoRequest, EchoResponse>(Service.FindMethodByName("Echo"), new EchoRequest { Text = "hello" }, GrpcTestClient.As(token));
}
