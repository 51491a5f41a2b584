using Transformation.Incentives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>Issue 19, acceptance 2: generated requests over every RPC answer no UNKNOWN or INTERNAL, and the service stays healthy.</summary>
public sealed class FuzzTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandGeneratedRequestsOverEveryRpcAnswerNeitherUnknownNorInternalAndTheServiceStaysHealthy()
    {
        var service = IncentivesReflection.Descriptor.Services[0];
        using var identity = new TestIdentity();
        await using var host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, identity, Ct, RequestFuzzer.HostSettings);
        using var fuzzer = new RequestFuzzer(host.Address, service);
        await fuzzer.CheckAsync(identity.TokenFor("e-1", RequestFuzzer.EveryRole), Ct);

        // A normal call still succeeds afterwards.
        var defined = await fuzzer.CallAsync<DefineBehaviourResponse>("DefineBehaviour", new DefineBehaviourRequest
        {
            IdempotencyKey = "after-fuzz", BehaviourId = "after-fuzz",
            Behaviour = new BehaviourDraft { Name = "After the fuzz", Description = "Keeps going after the fuzz", Polarity = Transformation.Initiatives.V1.Polarity.Desired },
        }, identity.TokenFor("hr-1", Roles.Hr), Ct);
        defined.Behaviour.BehaviourId.ShouldBe("after-fuzz");

        // Reflection describes the whole service to a stranger, as grpcurl uses it: list, describe, invoke.
        (await ReflectionProbe.ProblemsAsync(host.Address, service, Ct)).ShouldBeEmpty();
    }
}
