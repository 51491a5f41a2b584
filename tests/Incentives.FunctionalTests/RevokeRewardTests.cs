using Grpc.Core;
using Transformation.Audit.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>RevokeReward over real gRPC, PostgreSQL and RabbitMQ: a cap of 20 points, 10 per manager observation, a badge at 20.</summary>
public sealed class RevokeRewardTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Period => Api.Model.Period.Of(PeriodKind.Month, DateTimeOffset.UtcNow);

    public async ValueTask InitializeAsync()
    {
        _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _hr = _host.Token("hr-rv", Roles.Hr);
        await _host.DefineBehaviourAsync("helps", "Helps", Polarity.Desired, _hr);
        await _host.SetRulesAsync(new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints = { new SourcePoints { Source = ObservationSource.Manager, Points = 10 } },
            CapPerEmployee = 20,
            Badges = { new BadgeRule { BadgeId = "twenty", Name = "Twenty", Threshold = 20 } },
            ObservationsPublic = true,
        }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task RevokingGivesBackBudgetAndCapPublishesTheEventAuditsItAndAnswersARetryWithTheFirstResult()
    {
        await _host.JoinAsync(Ct, ("e-rv", "unit-rv", "m-rv"), ("m-rv", "unit-rv", ""));
        await _host.CallAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget",
            new SetBudgetRequest { IdempotencyKey = "budget-rv", OrgUnitId = "unit-rv", Period = Period, Amount = 100 }, _hr);
        var rewards = await GrantTwoAsync("e-rv", "unit-rv");
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-rv'", Ct)).ShouldBe(20);
        (await _host.ScalarAsync("SELECT count(*) FROM badges_earned WHERE employee_id = 'e-rv'", Ct)).ShouldBe(1);

        // The cap is reached: a third observation is declined.
        await ObserveAsync("e-rv", "unit-rv", "m-3", expectedOutcomes: 3);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-rv' AND decline_reason = 1", Ct)).ShouldBe(1);

        var request = new RevokeRewardRequest { IdempotencyKey = "revoke-1", RewardId = rewards[0], Reason = "Granted for someone else's work" };
        var revoked = await _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward", request, _hr);
        revoked.Reward.Status.ShouldBe(RewardStatus.Revoked);
        revoked.Reward.RevokedBy.ShouldBe("hr-rv");
        revoked.Reward.RevokeReason.ShouldBe("Granted for someone else's work");
        revoked.WithdrawnBadgeIds.ShouldBe(["twenty"]);
        var retried = await _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward", request, _hr);
        retried.ShouldBe(revoked);

        // The budget and the badge are given back, once.
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-rv'", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM badges_earned WHERE employee_id = 'e-rv'", Ct)).ShouldBe(0);
        (await _host.ScalarAsync($"""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-revoked' AND aggregate_id = 'e-rv'
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'rewardId' = '{rewards[0]}'
              AND (convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'points')::int = 10
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'revokedBy' = 'hr-rv'
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'reason' = 'Granted for someone else''s work'
            """, Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-revoked' AND aggregate_id = 'e-rv'", Ct)).ShouldBe(1);

        // Revoked once: another key finds it revoked.
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward",
            new RevokeRewardRequest { IdempotencyKey = "revoke-2", RewardId = rewards[0], Reason = "Again" }, _hr))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);

        // The trail: who, when, before and after.
        var trail = (await _host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = "reward", EntityId = rewards[0] }, _host.Token("exec", Roles.Executive))).Entries;
        trail.Count.ShouldBe(2);
        trail[1].ChangedBy.ShouldBe("hr-rv");
        trail[1].ChangedAt.ShouldNotBeNull();
        trail[1].Before.ShouldContain("REWARD_STATUS_GRANTED");
        trail[1].After.ShouldContain("REWARD_STATUS_REVOKED");
        trail[1].After.ShouldContain("Granted for someone else's work");

        // What the revoked reward used of the cap can be earned again, and the badge with it.
        await ObserveAsync("e-rv", "unit-rv", "m-4", expectedOutcomes: 4);
        (await _host.ScalarAsync("SELECT coalesce(sum(points), 0) FROM outcomes WHERE employee_id = 'e-rv' AND status = 0", Ct)).ShouldBe(20);
        (await _host.ScalarAsync("SELECT count(*) FROM badges_earned WHERE employee_id = 'e-rv'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-rv'", Ct)).ShouldBe(20);
    }

    [Fact]
    public async Task ARevokedRewardLeavesPublicFeedAndLeaderboardButStaysOnTheEmployeesOwnFeedAsRevoked()
    {
        await _host.JoinAsync(Ct, ("e-vis", "unit-vis", "m-vis"), ("m-vis", "unit-vis", ""));
        var rewards = await GrantTwoAsync("e-vis", "unit-vis");
        await _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward",
            new RevokeRewardRequest { IdempotencyKey = "revoke-vis", RewardId = rewards[0], Reason = "A duplicate" }, _hr);

        var publicFeed = await _host.CallAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", new GetPublicFeedRequest { OrgUnitId = "unit-vis" },
            _host.Token("peer", Roles.Employee));
        publicFeed.Rewards.Select(r => r.RewardId).ShouldBe([rewards[1]]);
        var board = await _host.CallAsync<GetLeaderboardRequest, GetLeaderboardResponse>("GetLeaderboard", new GetLeaderboardRequest { OrgUnitId = "unit-vis" }, _hr);
        board.Entries.Single().Points.ShouldBe(10);
        board.Entries.Single().Rewards.ShouldBe(1);

        var own = await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed", new GetEmployeeFeedRequest { EmployeeId = "e-vis" },
            _host.Token("e-vis", Roles.Employee));
        var shown = own.Rewards.Single(r => r.RewardId == rewards[0]);
        shown.Status.ShouldBe(RewardStatus.Revoked);
        shown.RevokeReason.ShouldBe("A duplicate");
        own.PeriodPoints.ShouldBe(10);
    }

    [Fact]
    public async Task OnlyHrRevokesAndBadInputNamesItsFieldsAndChangesNothing()
    {
        await _host.JoinAsync(Ct, ("e-deny", "unit-deny", "m-deny"), ("m-deny", "unit-deny", ""));
        var rewards = await GrantTwoAsync("e-deny", "unit-deny");
        var request = new RevokeRewardRequest { IdempotencyKey = "revoke-deny", RewardId = rewards[0], Reason = "No" };
        foreach (var token in new[] { _host.Token("e-deny", Roles.Employee), _host.Token("m-deny", Roles.Employee), _host.Token("cm", Roles.ChangeManager, Roles.Executive) })
        {
            (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward", request, token)))
                .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward",
            new RevokeRewardRequest { IdempotencyKey = "", RewardId = rewards[0], Reason = "   " }, _hr));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["idempotency_key", "reason"], ignoreOrder: true);
        var tooLong = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward",
            new RevokeRewardRequest { IdempotencyKey = "k", RewardId = "", Reason = new string('x', 1001) }, _hr));
        tooLong.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["reward_id", "reason"], ignoreOrder: true);
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RevokeRewardRequest, RevokeRewardResponse>("RevokeReward",
            new RevokeRewardRequest { IdempotencyKey = "unknown", RewardId = "no-such-reward", Reason = "Why not" }, _hr))).StatusCode.ShouldBe(StatusCode.NotFound);

        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-deny' AND status = 0", Ct)).ShouldBe(2);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-revoked' AND aggregate_id = 'e-deny'", Ct)).ShouldBe(0);
        (await _host.ScalarAsync($"SELECT count(*) FROM audit_log WHERE entity = 'reward' AND entity_id = '{rewards[0]}'", Ct)).ShouldBe(1);
    }

    /// <summary>Two manager observations of 10 points each, granted (the cap of 20 reached); their reward ids, oldest first.</summary>
    private async Task<string[]> GrantTwoAsync(string employee, string unit)
    {
        await ObserveAsync(employee, unit, "m-1", expectedOutcomes: 1, at: DateTimeOffset.UtcNow.AddMinutes(-2));
        await ObserveAsync(employee, unit, "m-2", expectedOutcomes: 2, at: DateTimeOffset.UtcNow.AddMinutes(-1));
        var feed = await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed", new GetEmployeeFeedRequest { EmployeeId = employee }, _hr);
        feed.Rewards.ShouldAllBe(r => r.Status == RewardStatus.Granted && r.Points == 10);
        return [.. feed.Rewards.OrderBy(r => r.OccurredAt).Select(r => r.RewardId)];
    }

    private async Task ObserveAsync(string employee, string unit, string observer, int expectedOutcomes, DateTimeOffset? at = null)
    {
        await _host.PublishAsync(IncentivesHost.Observed(employee, "helps", ObservationSource.Manager, observer: observer, unit: unit, at: at), Ct);
        await _host.WaitUntilAsync($"SELECT count(*) FROM outcomes WHERE employee_id = '{employee}'", expectedOutcomes, Ct);
    }
}
