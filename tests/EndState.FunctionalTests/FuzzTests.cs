using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.EndState.FunctionalTests;

/// <summary>Issue 19, acceptance 2: generated requests over every RPC answer no UNKNOWN or INTERNAL, and the service stays healthy.</summary>
public sealed class FuzzTests(PostgresFixture postgres, RabbitMqFixture rabbitMq)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandGeneratedRequestsOverEveryRpcAnswerNeitherUnknownNorInternalAndTheServiceStaysHealthy()
    {
        var service = EndstateReflection.Descriptor.Services[0];
        await using var host = new EndStateHost(postgres, rabbitMq) { Settings = RequestFuzzer.HostSettings };
        await host.InitializeAsync();
        using var fuzzer = new RequestFuzzer(host.Address, service);
        await fuzzer.CheckAsync(host.Identity.TokenFor("e-1", RequestFuzzer.EveryRole), Ct);

        // A normal call still succeeds afterwards.
        var list = await fuzzer.CallAsync<ListEndStatesResponse>("ListEndStates", new ListEndStatesRequest(), host.Identity.TokenFor("hr-1", Roles.Hr), Ct);
        list.ShouldNotBeNull();

        // Reflection describes the whole service to a stranger, as grpcurl uses it: list, describe, invoke.
        (await ReflectionProbe.ProblemsAsync(host.Address, service, Ct)).ShouldBeEmpty();
    }
}
