using Grpc.Core;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>Issue 19, acceptance 2: generated requests over every RPC answer no UNKNOWN or INTERNAL, and the service stays healthy.</summary>
public sealed class FuzzTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandGeneratedRequestsOverEveryRpcAnswerNeitherUnknownNorInternalAndTheServiceStaysHealthy()
    {
        var service = InitiativesReflection.Descriptor.Services[0];
        using var identity = new TestIdentity();
        await using var host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, identity, Ct, RequestFuzzer.HostSettings);
        using var fuzzer = new RequestFuzzer(host.Address, service);
        await fuzzer.CheckAsync(identity.TokenFor("e-1", RequestFuzzer.EveryRole), Ct);

        // A normal call still succeeds afterwards.
        var list = await fuzzer.CallAsync<ListInitiativesResponse>("ListInitiatives", new ListInitiativesRequest(), identity.TokenFor("hr-1", Roles.Hr), Ct);
        list.ShouldNotBeNull();

        // Reflection describes the whole service to a stranger, as grpcurl uses it: list, describe, invoke.
        (await ReflectionProbe.ProblemsAsync(host.Address, service, Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task RequestBytesThatDoNotParseAnswerInternalOnUnaryAndStreamingCalls()
    {
        var service = InitiativesReflection.Descriptor.Services[0];
        var bytes = Marshallers.Create((byte[] b) => b, b => b);
        byte[] undecodable = [0x0E, 0x0F, 0x08, 0xFF, 0xFF];
        using var identity = new TestIdentity();
        await using var host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, identity, Ct);
        var invoker = host.Client.Channel.CreateCallInvoker();
        var options = GrpcTestClient.As(identity.TokenFor("cm-1", Roles.ChangeManager), cancellationToken: Ct);

        using var unary = invoker.AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, service.FullName, "GetInitiative", bytes, bytes), null, options, undecodable);
        (await Should.ThrowAsync<RpcException>(unary.ResponseAsync)).StatusCode.ShouldBe(StatusCode.Internal);

        using var streaming = invoker.AsyncClientStreamingCall(new Method<byte[], byte[]>(MethodType.ClientStreaming, service.FullName, "RecordObservations", bytes, bytes), null, options);
        await streaming.RequestStream.WriteAsync(undecodable, Ct);
        await streaming.RequestStream.CompleteAsync();
        (await Should.ThrowAsync<RpcException>(streaming.ResponseAsync)).StatusCode.ShouldBe(StatusCode.Internal);
    }
}
