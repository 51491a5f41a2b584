using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using BaselinesApi = Transformation.Baselines.Api;
using Dir = Transformation.Directory.V1;
using DirectoryApi = Transformation.Directory.Api;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// Issue 8, full resynchronisation: a consumer that starts after the Directory published its events (its queue did not
/// exist, so it missed them) catches up when the Directory republishes its current state; a second republish changes nothing.
/// </summary>
public sealed class LateConsumerResyncScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AConsumerThatMissedTheDirectorysEventsCatchesUpFromARepublish()
    {
        using var identity = new TestIdentity();
        var directoryDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("directory").ToLowerInvariant(), Ct);
        var baselinesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("baselines").ToLowerInvariant(), Ct);
        var (directoryApp, directoryClient, _) = await Scenario.StartAsync("directory", directoryDb, rabbitMq.AmqpUri, identity,
            b => DirectoryApi.Extensions.AddDirectoryService(b), a => DirectoryApi.Extensions.MapDirectoryService(a), Ct);
        await using var _ = directoryApp;
        using var __ = directoryClient;
        var hr = identity.TokenFor("hr-1", Roles.Hr);

        // The tree is provisioned, and its events relayed, before Baselines ever ran.
        foreach (var (unit, parent) in new[] { ("org", ""), ("sales", "org"), ("support", "org") })
        {
            await directoryClient.Unary<Dir.UpsertOrgUnitRequest, Dir.UpsertOrgUnitResponse>(Dir.DirectoryReflection.Descriptor, "UpsertOrgUnit",
                new Dir.UpsertOrgUnitRequest
                {
                    IdempotencyKey = $"unit-{unit}", OrgUnitId = unit, Name = unit, ParentId = parent,
                    Kind = parent == "" ? Dir.OrgUnitKind.Organisation : Dir.OrgUnitKind.Department,
                }, hr);
        }

        await TestSql.WaitUntilAsync(directoryDb, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL", 0, Ct);
        var (baselinesApp, baselinesClient, _) = await Scenario.StartAsync("baselines", baselinesDb, rabbitMq.AmqpUri, identity,
            b => BaselinesApi.Extensions.AddBaselinesService(b), a => BaselinesApi.Extensions.MapBaselinesService(a), Ct);
        await using var ___ = baselinesApp;
        using var ____ = baselinesClient;
        (await TestSql.ScalarAsync(baselinesDb, "SELECT count(*) FROM org_units", Ct)).ShouldBe(0);

        // An operator republishes: Baselines now knows the whole tree, parents included.
        var republished = await directoryClient.Unary<Dir.RepublishDirectoryRequest, Dir.RepublishDirectoryResponse>(Dir.DirectoryReflection.Descriptor,
            "RepublishDirectory", new Dir.RepublishDirectoryRequest { IdempotencyKey = "resync-1" }, identity.TokenFor("ops-1", Roles.Operator));
        republished.OrgUnits.ShouldBe(3);
        await TestSql.WaitUntilAsync(baselinesDb, "SELECT count(*) FROM org_units WHERE org_unit_id IN ('org', 'sales', 'support')", 3, Ct);
        (await TestSql.ScalarAsync(baselinesDb, "SELECT count(*) FROM org_units WHERE org_unit_id = 'sales' AND parent_id = 'org'", Ct)).ShouldBe(1);

        // Republishing again delivers the same versions: handled, and nothing changes.
        var handled = await TestSql.ScalarAsync(baselinesDb, "SELECT count(*) FROM eventbus_inbox", Ct);
        await directoryClient.Unary<Dir.RepublishDirectoryRequest, Dir.RepublishDirectoryResponse>(Dir.DirectoryReflection.Descriptor,
            "RepublishDirectory", new Dir.RepublishDirectoryRequest { IdempotencyKey = "resync-2" }, hr);
        await TestSql.WaitUntilAsync(baselinesDb, "SELECT count(*) FROM eventbus_inbox", handled + 3, Ct);
        (await TestSql.ScalarAsync(baselinesDb, "SELECT count(*) FROM org_units", Ct)).ShouldBe(3);
    }
}
