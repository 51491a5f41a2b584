using Transformation.Incentives.Api;
using Transformation.Incentives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

public sealed class AccessTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task EveryRpcAnswersEachRoleAndNoTokenAsItsDeclarationSays()
    {
        using var identity = new TestIdentity();
        await using var host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, identity, TestContext.Current.CancellationToken);

        var disagreements = await AccessMatrix.DisagreementsAsync(host.Client, IncentivesReflection.Descriptor.Services[0], Extensions.AccessMap, identity);

        disagreements.ShouldBeEmpty();
    }

    [Fact]
    public void TheMatrixCoversTheLiveFeedAndTheRecognitionAnalyticsAsIntended()
    {
        // The matrix above calls every method of the service descriptor; these are the ones added with the live feed.
        var methods = IncentivesReflection.Descriptor.Services[0].Methods.ToDictionary(m => m.Name, StringComparer.Ordinal);
        methods["WatchEmployeeFeed"].IsServerStreaming.ShouldBeTrue();

        var access = Extensions.AccessMap;
        access["WatchEmployeeFeed"].IsAnonymous.ShouldBeFalse();
        access["WatchEmployeeFeed"].AllowedRoles.ShouldBeEmpty(); // Any signed-in caller; the handler checks whose feed it is.
        access["GetRecognitionEquity"].AllowedRoles.ShouldBe([Roles.Hr, Roles.Executive], ignoreOrder: true);
        access["GetLeaderboard"].AllowedRoles.ShouldBeEmpty(); // Employees see leaderboards too; those who opted out are never on them.
        access["RevokeReward"].AllowedRoles.ShouldBe([Roles.Hr]);
        access["SetLeaderboardPreference"].AllowedRoles.ShouldBeEmpty(); // Anyone signed in, for themselves.
        access["SetLeaderboardPreference"].IsAnonymous.ShouldBeFalse();
    }

    [Fact]
    public void OnlyHrDefinesTheRewardCatalogueAndExportsRedemptionsAndEmployeesRedeem()
    {
        var access = Extensions.AccessMap;
        access["DefineCatalogueReward"].AllowedRoles.ShouldBe([Roles.Hr]);
        access["ReviseCatalogueReward"].AllowedRoles.ShouldBe([Roles.Hr]);
        access["ExportRedemptions"].AllowedRoles.ShouldBe([Roles.Hr]);
        access["RedeemPoints"].AllowedRoles.ShouldBe([Roles.Employee]); // for the caller only: the request names nobody
        foreach (var perCaller in new[] { "ListCatalogueRewards", "GetPointsBalance", "ListRedemptions", "ReviewRedemption" })
        {
            access[perCaller].IsAnonymous.ShouldBeFalse();
            access[perCaller].AllowedRoles.ShouldBeEmpty(); // any signed-in caller; the handler filters by who they are
        }
    }
}
