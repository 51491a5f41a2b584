using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;
using IncentivesApi = Transformation.Incentives.Api;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>Acceptance 2: Initiatives and Incentives on one vhost, each with its own database.</summary>
public sealed class ObservedToRewardedScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnObservationRecordedHereIsRewardedThereMovesProgressAndShowsOnAStory()
    {
        using var identity = new TestIdentity();
        var initiativesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("initiatives").ToLowerInvariant(), Ct);
        var incentivesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("incentives").ToLowerInvariant(), Ct);
        var (initiatives, initiativesClient, _) = await Scenario.StartAsync("initiatives", initiativesDb, rabbitMq.AmqpUri, identity,
            b => b.AddInitiativesService(), a => a.MapInitiativesService(), Ct);
        var (incentives, incentivesClient, _) = await Scenario.StartAsync("incentives", incentivesDb, rabbitMq.AmqpUri, identity,
            b => IncentivesApi.Extensions.AddIncentivesService(b), a => IncentivesApi.Extensions.MapIncentivesService(a), Ct);
        await using var _ = initiatives;
        await using var __ = incentives;
        using var ___ = initiativesClient;
        using var ____ = incentivesClient;
        var hr = identity.TokenFor("hr-1", Roles.Hr);
        var manager = identity.TokenFor("cm-1", Roles.ChangeManager);
        var sponsor = identity.TokenFor("exec-1", Roles.Executive);

        // Defined, recorded here, rewarded there, and the initiative's progress moved.
        var (id, observationId) = await Scenario.ObserveAndRewardAsync(rabbitMq.AmqpUri, initiativesDb, incentivesDb, initiativesClient, incentivesClient,
            identity, Ct);

        // A story's evidence shows it.
        var story = (await initiativesClient.Unary<DraftSuccessStoryRequest, DraftSuccessStoryResponse>(InitiativesReflection.Descriptor, "DraftSuccessStory",
            new DraftSuccessStoryRequest { IdempotencyKey = "st1", InitiativeId = id, Title = "First reward", Body = "e1 helped.", ObservationIds = { observationId } },
            manager)).Story;
        story.Evidence.Rewards.Single().ObservationId.ShouldBe(observationId);
        story.Evidence.TotalPoints.ShouldBe(10);
        story.Evidence.Goals.Single().After.ShouldBe(1);
        story.Evidence.Goals.Single().Before.ShouldBe(0);

        // hr revokes the reward there: it is no evidence for a story drafted from now on; the drafted story keeps what it showed.
        await incentivesClient.Unary<Inc.RevokeRewardRequest, Inc.RevokeRewardResponse>(Inc.IncentivesReflection.Descriptor, "RevokeReward",
            new Inc.RevokeRewardRequest { IdempotencyKey = "rv1", RewardId = story.Evidence.Rewards.Single().RewardId, Reason = "Recorded for the wrong person" }, hr);
        await TestSql.WaitUntilAsync(initiativesDb, $"SELECT count(*) FROM rewards WHERE observation_id = '{observationId}' AND revoked_at IS NOT NULL", 1, Ct);
        var later = (await initiativesClient.Unary<DraftSuccessStoryRequest, DraftSuccessStoryResponse>(InitiativesReflection.Descriptor, "DraftSuccessStory",
            new DraftSuccessStoryRequest { IdempotencyKey = "st2", InitiativeId = id, Title = "Again", Body = "e1 helped.", ObservationIds = { observationId } },
            manager)).Story;
        later.Evidence.Rewards.ShouldBeEmpty();
        later.Evidence.TotalPoints.ShouldBe(0);
        (await initiativesClient.Unary<GetSuccessStoryRequest, GetSuccessStoryResponse>(InitiativesReflection.Descriptor, "GetSuccessStory",
            new GetSuccessStoryRequest { StoryId = story.StoryId }, manager)).Story.Evidence.TotalPoints.ShouldBe(10);
    }
}
