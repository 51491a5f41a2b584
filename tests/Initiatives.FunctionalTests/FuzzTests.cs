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
    }
}
