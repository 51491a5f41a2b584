using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Directory.V1;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;
using IncentivesApi = Transformation.Incentives.Api;
using IncPolarity = Transformation.Initiatives.V1.Polarity;
using IncSource = Transformation.Initiatives.V1.ObservationSource;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>Acceptance 2: Initiatives and Incentives on one vhost, each with its own database.</summary>
public sealed class ObservedToRewardedScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static readonly string[] People = ["exec-1", "cm-1", "e1", "e2"];

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

        // The Directory's events reach both services.
        await TestEvents.PublishAsync(rabbitMq.AmqpUri,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", Name = "Sales", Version = 1 } },
            .. People.Select(id => (IMessage)new EmployeeJoined
            {
                Employee = new EmployeeSnapshot { EmployeeId = id, OrgUnitId = "sales", Active = true, Version = 1, Roles = { Role.Employee } },
            }),
        ], Ct);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM employees", 4, Ct);
        await TestSql.WaitUntilAsync(incentivesDb, "SELECT count(*) FROM employees", 4, Ct);

        // Incentives defines the behaviour (its catalogue events reach Initiatives) and a rule.
        await incentivesClient.Unary<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(Inc.IncentivesReflection.Descriptor, "DefineBehaviour", new Inc.DefineBehaviourRequest
        {
            IdempotencyKey = "d1",
            BehaviourId = "helps-customers",
            Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = IncPolarity.Desired },
        }, hr);
        await incentivesClient.Unary<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(Inc.IncentivesReflection.Descriptor, "UpdateIncentiveRules",
            new Inc.UpdateIncentiveRulesRequest
            {
                IdempotencyKey = "r1",
                Rules = new Inc.IncentiveRules
                {
                    Period = Inc.PeriodKind.Month,
                    SourcePoints = { new Inc.SourcePoints { Source = IncSource.Manager, Points = 10 } },
                    CapPerEmployee = 100,
                    ApprovalThreshold = 1000,
                    AntiGaming = new Inc.AntiGamingRules(),
                    ObservationsPublic = true,
                },
            }, hr);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1, Ct);

        // An active initiative targeting it.
        var id = (await initiativesClient.Unary<ProposeInitiativeRequest, ProposeInitiativeResponse>(InitiativesReflection.Descriptor, "ProposeInitiative",
            new ProposeInitiativeRequest
            {
                IdempotencyKey = "p1",
                Initiative = new InitiativeDraft
                {
                    Name = "Customer first",
                    Purpose = "The customer at the centre",
                    SponsorId = "exec-1",
                    ScopeOrgUnitIds = { "sales" },
                    TargetBehaviourIds = { "helps-customers" },
                    Goals = { new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 1 } },
                },
            }, manager)).Initiative.InitiativeId;
        await initiativesClient.Unary<SponsorInitiativeRequest, SponsorInitiativeResponse>(InitiativesReflection.Descriptor, "SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s1", InitiativeId = id }, sponsor);
        await initiativesClient.Unary<ActivateInitiativeRequest, ActivateInitiativeResponse>(InitiativesReflection.Descriptor, "ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a1", InitiativeId = id }, manager);

        // Recorded here …
        var observationId = (await initiativesClient.Unary<RecordObservationRequest, RecordObservationResponse>(InitiativesReflection.Descriptor, "RecordObservation",
            new RecordObservationRequest
            {
                Observation = new ObservationInput
                {
                    IdempotencyKey = "o1", EmployeeId = "e1", BehaviourId = "helps-customers", Source = ObservationSource.Manager, ObserverId = "cm-1",
                    ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = "ticket 42", InitiativeId = id,
                },
            }, manager)).ObservationId;

        // … rewarded there, and the reward comes back as evidence.
        await TestSql.WaitUntilAsync(incentivesDb, $"SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e1'", 1, Ct);
        await TestSql.WaitUntilAsync(initiativesDb, $"SELECT count(*) FROM rewards WHERE observation_id = '{observationId}' AND points = 10", 1, Ct);

        // The initiative's progress moved.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Initiative initiative;
        while ((initiative = (await initiativesClient.Unary<GetInitiativeRequest, GetInitiativeResponse>(InitiativesReflection.Descriptor, "GetInitiative",
            new GetInitiativeRequest { InitiativeId = id }, sponsor)).Initiative).Progress.DesiredObservations < 1)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline);
            await Task.Delay(100, Ct);
        }

        initiative.Progress.Goals.Single().Value.ShouldBe(1);

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
