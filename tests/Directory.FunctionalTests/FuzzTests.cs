using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Directory.FunctionalTests;

/// <summary>Issue 19, acceptance 2: generated requests over every RPC answer no UNKNOWN or INTERNAL, and the service stays healthy.</summary>
public sealed class FuzzTests(PostgresFixture postgres, RabbitMqFixture rabbitMq)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandGeneratedRequestsOverEveryRpcAnswerNeitherUnknownNorInternalAndTheServiceStaysHealthy()
    {
        var service = DirectoryReflection.Descriptor.Services[0];
        await using var host = new DirectoryHost(postgres, rabbitMq) { Settings = RequestFuzzer.HostSettings };
        await host.InitializeAsync();
        using var fuzzer = new RequestFuzzer(new Uri($"http://127.0.0.1:{host.GrpcPort}"), service);
        await fuzzer.CheckAsync(host.Identity.TokenFor("e-1", RequestFuzzer.EveryRole), Ct);

        // A normal call still succeeds afterwards.
        var unit = await fuzzer.CallAsync<UpsertOrgUnitResponse>("UpsertOrgUnit",
            new UpsertOrgUnitRequest { IdempotencyKey = "after-fuzz", OrgUnitId = "after-fuzz", Name = "After the fuzz", Kind = OrgUnitKind.Organisation },
            host.Token(Roles.Hr), Ct);
        unit.OrgUnit.Name.ShouldBe("After the fuzz");

        // Reflection describes the whole service to a stranger, as grpcurl uses it: list, describe, invoke.
        (await ReflectionProbe.ProblemsAsync(new Uri($"http://127.0.0.1:{host.GrpcPort}"), service, Ct)).ShouldBeEmpty();
    }
}
