using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>Issue 19, acceptance 2: generated requests over every RPC answer no UNKNOWN or INTERNAL, and the service stays healthy.</summary>
public sealed class FuzzTests(PostgresFixture postgres, RabbitMqFixture rabbitMq)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandGeneratedRequestsOverEveryRpcAnswerNeitherUnknownNorInternalAndTheServiceStaysHealthy()
    {
        var service = BaselinesReflection.Descriptor.Services[0];
        await using var host = new BaselinesHost(postgres, rabbitMq) { Settings = RequestFuzzer.HostSettings };
        await host.InitializeAsync();
        using var fuzzer = new RequestFuzzer(new Uri($"http://127.0.0.1:{host.GrpcPort}"), service);
        await fuzzer.CheckAsync(host.Identity.TokenFor("e-1", RequestFuzzer.EveryRole), Ct);

        // A normal call still succeeds afterwards.
        var defined = await fuzzer.CallAsync<DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = "after-fuzz", DimensionId = "after-fuzz",
            Fields = new DimensionFields { Name = "After the fuzz", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        }, host.Token(Roles.Hr), Ct);
        defined.Dimension.Fields.Name.ShouldBe("After the fuzz");

        // Reflection describes the whole service to a stranger, as grpcurl uses it: list, describe, invoke.
        (await ReflectionProbe.ProblemsAsync(new Uri($"http://127.0.0.1:{host.GrpcPort}"), service, Ct)).ShouldBeEmpty();
    }
}
