using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Transformation.Audit.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>The service over real gRPC, PostgreSQL and RabbitMQ; one host and one rule set for the class, ids unique per test.</summary>
public sealed class IncentivesServiceTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private const string Queue = "incentives-behaviour-observed";
    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Period => Api.Model.Period.Of(PeriodKind.Month, DateTimeOffset.UtcNow);

    public async ValueTask InitializeAsync()
    {
        _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _hr = _host.Token("hr-1", Roles.Hr, Roles.Employee);
        await DefineAsync("speaks-up", Polarity.Desired);
        await DefineAsync("helps-customers", Polarity.Desired);
        await DefineAsync("big-deal", Polarity.Desired);
        await DefineAsync("belittles", Polarity.Unacceptable);
        var rules = new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints =
            {
                new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
                new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
                new SourcePoints { Source = ObservationSource.SystemIntegration, Points = 10 },
            },
            BehaviourPoints = { new BehaviourPoints { BehaviourId = "big-deal", Source = ObservationSource.Manager, Points = 60 } },
            CapPerEmployee = 100,
            CooldownMinutes = 60,
            ApprovalThreshold = 50,
            PeerAllowance = 20,
            Badges = { new BadgeRule { BadgeId = "first-steps", Name = "First steps", Threshold = 10 } },
            AntiGaming = new AntiGamingRules { ReciprocalMinCount = 1, ReciprocalWindowDays = 30, BurstMaxCount = 0 },
            ObservationsPublic = true,
        };
        await _host.CallAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = "rules-1", ExpectedVersion = 0, Rules = rules }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    // ---- Catalogue ----

    [Fact]
    public async Task ABehaviourIsVersionedWithItsHistoryAndEveryVersionIsPublishedAsASnapshot()
    {
        var revised = await _host.CallAsync<ReviseBehaviourRequest, ReviseBehaviourResponse>("ReviseBehaviour", new ReviseBehaviourRequest
        {
            IdempotencyKey = "rev-1",
            BehaviourId = "speaks-up",
            ExpectedVersion = 1,
            Behaviour = Draft("Speaks up, even to seniors", Polarity.Desired),
        }, _hr);
        revised.Behaviour.Version.ShouldBe(2);

        var stale = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ReviseBehaviourRequest, ReviseBehaviourResponse>("ReviseBehaviour",
            new ReviseBehaviourRequest { IdempotencyKey = "rev-2", BehaviourId = "speaks-up", ExpectedVersion = 1, Behaviour = Draft("x", Polarity.Desired) }, _hr));
        stale.StatusCode.ShouldBe(StatusCode.FailedPrecondition);

        var employee = _host.Token("e-cat", Roles.Employee);
        var history = await _host.CallAsync<ListBehaviourVersionsRequest, ListBehaviourVersionsResponse>("ListBehaviourVersions",
            new ListBehaviourVersionsRequest { BehaviourId = "speaks-up" }, employee);
        history.Versions.Select(v => v.Version).ShouldBe([1, 2]);
        history.Versions[1].Dimensions.Single().DimensionId.ShouldBe("openness");
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic IN ('behaviour-defined', 'behaviour-revised') AND aggregate_id = 'speaks-up'", Ct))
            .ShouldBe(2);
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity = 'behaviour' AND entity_id = 'speaks-up'", Ct)).ShouldBe(2);
    }

    [Fact]
    public async Task OnlyHrWritesTheCatalogueAndBadInputNamesItsFieldsAndStoresNothing()
    {
        var denied = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour",
            new DefineBehaviourRequest { IdempotencyKey = "d1", BehaviourId = "sneaky", Behaviour = Draft("Sneaky", Polarity.Desired) }, _host.Token("e-x", Roles.Employee)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);

        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour",
            new DefineBehaviourRequest { IdempotencyKey = "d2", BehaviourId = "bad", Behaviour = new BehaviourDraft { Name = "", Polarity = Polarity.Desired } }, _hr));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldContain("behaviour.name");
        (await _host.ScalarAsync("SELECT count(*) FROM behaviours WHERE behaviour_id IN ('sneaky', 'bad')", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task RuleChangesAreVersionedAndAuditedWithBeforeAndAfter()
    {
        var current = await _host.CallAsync<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(),
            _host.Token("e-r", Roles.Employee));
        current.Version.ShouldBe(1);
        var audit = await _host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = "incentive_rules" }, _hr);
        audit.Entries.Single().ChangedBy.ShouldBe("hr-1");
        audit.Entries.Single().Before.ShouldBeEmpty();
        audit.Entries.Single().After.ShouldContain("capPerEmployee");
        var denied = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = "r", ExpectedVersion = 1, Rules = current.Rules }, _host.Token("e-r", Roles.Employee, Roles.Executive)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    // ---- Rules through the subscriber ----

    [Fact]
    public async Task FiftyParallelObservationsForOneEmployeeNeverExceedTheCap()
    {
        var observations = Enumerable.Range(0, 50).Select(_ => IncentivesHost.Observed("e-cap", "helps-customers", ObservationSource.SystemIntegration)).ToList();
        await Task.WhenAll(observations.Select(o => _host.PublishAsync(o, Ct)));
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cap'", 50, Ct);

        (await _host.ScalarAsync("SELECT sum(points) FROM outcomes WHERE employee_id = 'e-cap' AND status = 0", Ct)).ShouldBe(100);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cap' AND status = 0", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cap' AND decline_reason = 1", Ct)).ShouldBe(40);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e-cap'", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM badges_earned WHERE employee_id = 'e-cap'", Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task ParallelGrantsNeverOverspendABudgetOfTheUnitOrItsParent()
    {
        await _host.PublishAsync(new Directory.V1.OrgUnitChanged { OrgUnit = new Directory.V1.OrgUnitSnapshot { OrgUnitId = "team-b", ParentId = "dept-b", Version = 1 } }, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM org_units WHERE org_unit_id = 'team-b'", 1, Ct);
        await _host.CallAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget",
            new SetBudgetRequest { IdempotencyKey = "b1", OrgUnitId = "dept-b", Period = Period, Amount = 55 }, _hr);

        var observations = Enumerable.Range(0, 30)
            .Select(i => IncentivesHost.Observed($"e-budget-{i}", "helps-customers", ObservationSource.SystemIntegration, unit: "team-b")).ToList();
        await Task.WhenAll(observations.Select(o => _host.PublishAsync(o, Ct)));
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'team-b'", 30, Ct);

        (await _host.ScalarAsync("SELECT coalesce(sum(points), 0) FROM outcomes WHERE org_unit_id = 'team-b' AND status = 0", Ct)).ShouldBe(50);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'team-b' AND decline_reason = 4", Ct)).ShouldBe(25);
        var budget = await _host.CallAsync<GetBudgetRequest, GetBudgetResponse>("GetBudget", new GetBudgetRequest { OrgUnitId = "dept-b", Period = Period }, _hr);
        budget.Budget.Spent.ShouldBe(50);
    }

    [Fact]
    public async Task TheSameObservationDeliveredTwiceAndOutOfOrderYieldsExactlyOneReward()
    {
        var early = IncentivesHost.Observed("e-dup", "helps-customers", ObservationSource.Manager, observer: "m-dup-1", at: DateTimeOffset.UtcNow.AddHours(-3));
        var late = IncentivesHost.Observed("e-dup", "speaks-up", ObservationSource.Manager, observer: "m-dup-2");
        var lateEventId = Guid.NewGuid().ToString();

        // The later observation first, then the earlier one, then the later one again (a redelivery with the same
        // event id, and a second publication with a new event id, as a producer retrying without its outbox would).
        await _host.PublishAsync([(late, lateEventId)], Ct);
        await _host.PublishAsync([(early, Guid.NewGuid().ToString()), (late, lateEventId), (late, Guid.NewGuid().ToString())], Ct);
        await _host.DrainedAsync(Queue, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-dup'", 2, Ct);

        (await _host.ScalarAsync($"SELECT count(*) FROM outcomes WHERE observation_id = '{late.ObservationId}' AND status = 0", Ct)).ShouldBe(1);
        (await _host.ScalarAsync($"SELECT count(*) FROM outcomes WHERE observation_id = '{early.ObservationId}' AND status = 0", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e-dup'", Ct)).ShouldBe(2);
        (await _host.ScalarAsync("SELECT sum(points) FROM outcomes WHERE employee_id = 'e-dup'", Ct)).ShouldBe(20);
    }

    [Fact]
    public async Task TheSameGiverWithinTheCooldownEarnsNothingMore()
    {
        var first = IncentivesHost.Observed("e-cool", "speaks-up", ObservationSource.Manager, observer: "m-cool");
        await _host.PublishAsync(first, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cool'", 1, Ct);
        await _host.PublishAsync(IncentivesHost.Observed("e-cool", "helps-customers", ObservationSource.Manager, observer: "m-cool", at: DateTimeOffset.UtcNow.AddMinutes(10)), Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cool'", 2, Ct);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-cool' AND decline_reason = 2", Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task ARewardAboveTheThresholdWaitsForTheManagerWhoApprovesItOnce()
    {
        await _host.JoinAsync(Ct, ("e-big", "unit-big", "m-big"), ("m-big", "unit-big", ""), ("m-other", "unit-big", ""));
        await _host.PublishAsync(IncentivesHost.Observed("e-big", "big-deal", ObservationSource.Manager, observer: "m-giver"), Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-big' AND status = 1", 1, Ct);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e-big'", Ct)).ShouldBe(0);
        // Issue 25: the wait is published with the outcome, naming the manager who may approve it.
        (await _host.ScalarAsync("""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-held' AND aggregate_id = 'e-big'
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'approverId' = 'm-big' AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'points' = '60'
            """, Ct)).ShouldBe(1);

        var manager = _host.Token("m-big", Roles.Employee);
        var queue = await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest(), manager);
        var pending = queue.Rewards.Single();
        pending.Points.ShouldBe(60);
        (await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest(), _host.Token("m-other", Roles.Employee)))
            .Rewards.ShouldBeEmpty();
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward",
            new ReviewRewardRequest { IdempotencyKey = "x", RewardId = pending.RewardId, Decision = ReviewDecision.Approve }, _host.Token("m-other", Roles.Employee))))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);

        var request = new ReviewRewardRequest { IdempotencyKey = "approve-big", RewardId = pending.RewardId, Decision = ReviewDecision.Approve, Note = "well done" };
        var approved = await _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward", request, manager);
        var retried = await _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward", request, manager);
        approved.Reward.Status.ShouldBe(RewardStatus.Granted);
        retried.ShouldBe(approved);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e-big'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'badge-awarded' AND aggregate_id = 'e-big'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-reviewed' AND aggregate_id = 'e-big'", Ct)).ShouldBe(1);

        // The trail: the rules created the pending reward (the service's identity), the manager approved it (before → after), once.
        var trail = (await _host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = "reward", EntityId = pending.RewardId }, _host.Token("exec", Roles.Executive))).Entries;
        trail.Count.ShouldBe(2);
        trail[0].ChangedBy.ShouldBe("service:incentives");
        trail[0].Before.ShouldBeEmpty();
        trail[0].After.ShouldContain("REWARD_STATUS_PENDING");
        trail[1].ChangedBy.ShouldBe("m-big");
        trail[1].Before.ShouldContain("REWARD_STATUS_PENDING");
        trail[1].After.ShouldContain("REWARD_STATUS_GRANTED");
    }

    [Fact]
    public async Task ARejectedRewardGivesItsBudgetBack()
    {
        await _host.CallAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget",
            new SetBudgetRequest { IdempotencyKey = "b-rej", OrgUnitId = "unit-rej", Period = Period, Amount = 100 }, _hr);
        await _host.PublishAsync(IncentivesHost.Observed("e-rej", "big-deal", ObservationSource.Manager, observer: "m-x", unit: "unit-rej"), Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-rej' AND status = 1", 1, Ct);
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-rej'", Ct)).ShouldBe(60);
        var rewardId = (await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest(), _hr))
            .Rewards.Single(r => r.EmployeeId == "e-rej").RewardId;
        var rejected = await _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward",
            new ReviewRewardRequest { IdempotencyKey = "rej", RewardId = rewardId, Decision = ReviewDecision.Reject }, _hr);
        rejected.Reward.Status.ShouldBe(RewardStatus.Rejected);
        // Issue 25: nobody but hr may approve it (no manager known): the wait names no one; the rejection ends it.
        (await _host.ScalarAsync("""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-held' AND aggregate_id = 'e-rej'
              AND coalesce(convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'approverId', '') = ''
            """, Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-reviewed' AND aggregate_id = 'e-rej'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-rej'", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task AReviewTheDatabaseRefusesLeavesTheLedgerAsTheDatabaseHasIt()
    {
        await _host.PublishAsync(IncentivesHost.Observed("e-fail", "big-deal", ObservationSource.Manager, observer: "m-fail"), Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-fail' AND status = 1", 1, Ct);
        var rewardId = (await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest(), _hr))
            .Rewards.Single(r => r.EmployeeId == "e-fail").RewardId;

        // The employee's ledger takes the rejection, then the database refuses it: the call fails and nothing is stored.
        await _host.ScalarAsync("""
            CREATE FUNCTION refuse_review() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
            CREATE TRIGGER refuse_review BEFORE UPDATE ON outcomes FOR EACH ROW WHEN (OLD.employee_id = 'e-fail') EXECUTE FUNCTION refuse_review();
            SELECT 0::bigint
            """, Ct);
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward",
            new ReviewRewardRequest { IdempotencyKey = "rej-fail", RewardId = rewardId, Decision = ReviewDecision.Reject }, _hr))).StatusCode.ShouldBe(StatusCode.Unknown);
        await _host.ScalarAsync("DROP TRIGGER refuse_review ON outcomes; DROP FUNCTION refuse_review(); SELECT 0::bigint", Ct);

        // Still pending, its 60 points still count against the cap of 100: of five more 10s, four are granted.
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => _host.PublishAsync(IncentivesHost.Observed("e-fail", "helps-customers", ObservationSource.SystemIntegration), Ct)));
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-fail'", 6, Ct);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-fail' AND status = 0", Ct)).ShouldBe(4);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-fail' AND status = 1", Ct)).ShouldBe(1);
    }

    // ---- Call-outs ----

    [Fact]
    public async Task CallOutsAreNeverPublicNeverSeenByPeersAndReportedOnlyForGroupsOfFive()
    {
        await _host.JoinAsync(Ct, ("e-co-0", "unit-co", "m-co"), ("e-peer-co", "unit-co", "m-co"));
        var callOuts = Enumerable.Range(0, 4)
            .Select(i => IncentivesHost.Observed($"e-co-{i}", "belittles", ObservationSource.Manager, observer: "m-co", unit: "unit-co", polarity: Polarity.Unacceptable))
            .ToList();
        await Task.WhenAll(callOuts.Select(o => _host.PublishAsync(o, Ct)));
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'unit-co' AND status = 4", 4, Ct);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id LIKE 'e-co-%'", Ct)).ShouldBe(0);
        // Not rewards, and not for the executives who read the audit trail.
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log a JOIN outcomes o ON o.reward_id = a.entity_id WHERE o.org_unit_id = 'unit-co'", Ct)).ShouldBe(0);

        var peer = _host.Token("e-peer-co", Roles.Employee);
        var publicFeed = await _host.CallAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", new GetPublicFeedRequest { Limit = 500 }, peer);
        publicFeed.Rewards.ShouldNotContain(r => r.BehaviourId == "belittles");
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed",
            new GetEmployeeFeedRequest { EmployeeId = "e-co-0" }, peer))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var own = await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed",
            new GetEmployeeFeedRequest { EmployeeId = "e-co-0" }, _host.Token("e-co-0", Roles.Employee));
        own.Rewards.ShouldBeEmpty();
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ListCallOutsRequest, ListCallOutsResponse>("ListCallOuts",
            new ListCallOutsRequest(), _host.Token("x", Roles.Executive)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);

        var executive = _host.Token("exec", Roles.Executive);
        var small = await _host.CallAsync<GetCallOutReportRequest, GetCallOutReportResponse>("GetCallOutReport", new GetCallOutReportRequest { Period = Period }, executive);
        small.Counts.ShouldNotContain(c => c.OrgUnitId == "unit-co");
        small.SuppressedGroups.ShouldBeGreaterThanOrEqualTo(1);

        await _host.PublishAsync(IncentivesHost.Observed("e-co-4", "belittles", ObservationSource.Peer, observer: "p", unit: "unit-co", polarity: Polarity.Unacceptable), Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'unit-co' AND status = 4", 5, Ct);
        var report = await _host.CallAsync<GetCallOutReportRequest, GetCallOutReportResponse>("GetCallOutReport", new GetCallOutReportRequest { Period = Period }, executive);
        report.Counts.Single(c => c.OrgUnitId == "unit-co").Employees.ShouldBe(5);
        (await _host.CallAsync<ListCallOutsRequest, ListCallOutsResponse>("ListCallOuts", new ListCallOutsRequest { Period = Period }, _hr))
            .CallOuts.Count(c => c.OrgUnitId == "unit-co").ShouldBe(5);
    }

    // ---- Peer recognition ----

    [Fact]
    public async Task PeerRecognitionIsIdempotentSpendsTheAllowanceAndStaysPrivateWhenAskedTo()
    {
        await _host.JoinAsync(Ct, ("e-giver", "unit-p", "m-p"), ("e-r1", "unit-p", "m-p"), ("e-r2", "unit-p", "m-p"), ("e-r3", "unit-p", "m-p"), ("e-outsider", "unit-q", "m-q"));
        var giver = _host.Token("e-giver", Roles.Employee);
        var request = new GiveRecognitionRequest { IdempotencyKey = "g-1", RecipientIds = { "e-r1", "e-r2" }, BehaviourId = "speaks-up", Message = "Thanks!", Public = false };
        var first = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", request, giver);
        var retry = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", request, giver);
        retry.ShouldBe(first);
        first.Rewards.Select(r => r.Status).ShouldAllBe(s => s == RewardStatus.Granted);
        first.AllowanceRemaining.ShouldBe(10);

        var tooMuch = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "g-2", RecipientIds = { "e-r3", "e-r1", "e-outsider" }, BehaviourId = "speaks-up", Message = "Again", Public = true }, giver));
        tooMuch.StatusCode.ShouldBe(StatusCode.ResourceExhausted);

        var self = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "g-3", RecipientIds = { "e-giver" }, BehaviourId = "belittles", Message = "me" }, giver));
        self.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["recipient_ids", "behaviour_id"], ignoreOrder: true);

        var own = await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed",
            new GetEmployeeFeedRequest { EmployeeId = "e-r1" }, _host.Token("e-r1", Roles.Employee));
        own.Rewards.Single().Message.ShouldBe("Thanks!");
        (await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed", new GetEmployeeFeedRequest { EmployeeId = "e-r1" },
            _host.Token("m-p", Roles.Employee))).Rewards.Count.ShouldBe(1);
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed",
            new GetEmployeeFeedRequest { EmployeeId = "e-r1" }, _host.Token("e-r2", Roles.Employee)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var publicFeed = await _host.CallAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", new GetPublicFeedRequest { Limit = 500 }, giver);
        publicFeed.Rewards.ShouldNotContain(r => r.EmployeeId == "e-r1" || r.EmployeeId == "e-r2");
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'recognition-published' AND aggregate_id IN ('e-r1', 'e-r2')", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task RecognitionSpendsOnlyWhatIsGrantedAndAFailedOneSpendsNothing()
    {
        // Allowance 20 a month, 5 points a colleague, a giver's cooldown of an hour per recipient.
        await _host.JoinAsync(Ct, ("e-sp", "unit-sp", "m-sp"), ("e-sp1", "unit-sp", "m-sp"), ("e-sp2", "unit-sp", "m-sp"), ("e-broke", "unit-broke", "m-broke"));
        await _host.CallAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget",
            new SetBudgetRequest { IdempotencyKey = "sp-budget", OrgUnitId = "unit-broke", Period = Period, Amount = 0 }, _hr);
        var giver = _host.Token("e-sp", Roles.Employee);
        async Task<int> LeftAsync() => (await _host.CallAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed",
            new GetEmployeeFeedRequest { EmployeeId = "e-sp" }, giver)).PeerAllowanceRemaining;
        Task<GiveRecognitionResponse> GiveAsync(string key, string message, params string[] recipients) =>
            _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
                new GiveRecognitionRequest { IdempotencyKey = key, RecipientIds = { recipients }, BehaviourId = "speaks-up", Message = message }, giver);

        (await LeftAsync()).ShouldBe(20);
        (await GiveAsync("sp-1", "Thanks", "e-sp1")).AllowanceRemaining.ShouldBe(15);

        // Within the cooldown, and to a unit whose budget is spent: nothing granted, nothing spent, and the reasons say why.
        var declined = await GiveAsync("sp-2", "Thanks again", "e-sp1", "e-broke");
        declined.Rewards.Select(r => (r.EmployeeId, r.Status, r.DeclineReason)).ShouldBe(
            [("e-sp1", RewardStatus.Declined, DeclineReason.Cooldown), ("e-broke", RewardStatus.Declined, DeclineReason.BudgetExhausted)], ignoreOrder: true);
        declined.AllowanceRemaining.ShouldBe(15);
        (await LeftAsync()).ShouldBe(15);

        // A recognition that fails (here a message the service refuses) spends nothing, in the database or in any process's memory.
        var failed = await Should.ThrowAsync<RpcException>(() => GiveAsync("sp-3", "Thanks\0", "e-sp2"));
        failed.StatusCode.ShouldNotBe(StatusCode.OK);
        (await LeftAsync()).ShouldBe(15);
        (await GiveAsync("sp-4", "Thanks", "e-sp2")).AllowanceRemaining.ShouldBe(10);

        // Refused as a whole when even a full grant would not fit, before any recipient's ledger decides anything.
        await _host.JoinAsync(Ct, ("e-sp3", "unit-sp", "m-sp"), ("e-sp4", "unit-sp", "m-sp"), ("e-sp5", "unit-sp", "m-sp"));
        var tooMuch = await Should.ThrowAsync<RpcException>(() => GiveAsync("sp-5", "All of you", "e-sp3", "e-sp4", "e-sp5"));
        tooMuch.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        tooMuch.Status.Detail.ShouldContain("10 are left");
        (await GiveAsync("sp-6", "Both of you", "e-sp3", "e-sp4")).AllowanceRemaining.ShouldBe(0);
    }

    [Fact]
    public async Task ARejectedPeerRewardKeepsTheGiversCooldownAlsoAfterTheLedgerIsReadAgain()
    {
        await _host.JoinAsync(Ct, ("e-ca", "unit-ca", "m-ca"), ("e-cb", "unit-ca", "m-ca"));
        await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "ca-1", RecipientIds = { "e-cb" }, BehaviourId = "speaks-up", Message = "Great" }, _host.Token("e-ca", Roles.Employee));
        var back = (await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "cb-1", RecipientIds = { "e-ca" }, BehaviourId = "speaks-up", Message = "You too" }, _host.Token("e-cb", Roles.Employee)))
            .Rewards.Single();
        back.Status.ShouldBe(RewardStatus.Flagged);
        await _host.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward",
            new ReviewRewardRequest { IdempotencyKey = "cb-reject", RewardId = back.RewardId, Decision = ReviewDecision.Reject }, _hr);

        // The recipient's ledger is read again from the database (as after a restart): the same giver within the hour still earns nothing.
        await _host.Services.GetRequiredService<IGrainFactory>().GetGrain<Api.Grains.ILedgerGrain>("e-ca").DeactivateAsync();
        var again = (await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "cb-2", RecipientIds = { "e-ca" }, BehaviourId = "speaks-up", Message = "Really" }, _host.Token("e-cb", Roles.Employee)))
            .Rewards.Single();
        again.Status.ShouldBe(RewardStatus.Declined);
        again.DeclineReason.ShouldBe(DeclineReason.Cooldown);
    }

    [Fact]
    public async Task ReciprocalGivingIsFlaggedForHrWithItsReason()
    {
        await _host.JoinAsync(Ct, ("e-ra", "unit-ra", "m-ra"), ("e-rb", "unit-ra", "m-ra"));
        var first = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "ra-1", RecipientIds = { "e-rb" }, BehaviourId = "speaks-up", Message = "Great", Public = true },
            _host.Token("e-ra", Roles.Employee));
        first.Rewards.Single().Status.ShouldBe(RewardStatus.Granted);
        var back = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "rb-1", RecipientIds = { "e-ra" }, BehaviourId = "speaks-up", Message = "You too", Public = true },
            _host.Token("e-rb", Roles.Employee));
        var flagged = back.Rewards.Single();
        flagged.Status.ShouldBe(RewardStatus.Flagged);
        flagged.Flags.Single().ShouldStartWith("reciprocal: e-ra gave e-rb 1 peer reward(s)");

        (await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest(), _host.Token("m-ra", Roles.Employee)))
            .Rewards.ShouldNotContain(r => r.RewardId == flagged.RewardId);
        (await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest { Limit = 500 }, _hr))
            .Rewards.ShouldContain(r => r.RewardId == flagged.RewardId);
        var publicFeed = await _host.CallAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", new GetPublicFeedRequest { OrgUnitId = "unit-ra" }, _hr);
        publicFeed.Rewards.Select(r => r.EmployeeId).ShouldBe(["e-rb"]);
    }

    [Fact]
    public async Task ACallWithoutATokenIsUnauthenticated() =>
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", new GetPublicFeedRequest(), "bogus")))
            .StatusCode.ShouldBe(StatusCode.Unauthenticated);

    private async Task DefineAsync(string id, Polarity polarity) =>
        await _host.CallAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour",
            new DefineBehaviourRequest { IdempotencyKey = $"define-{id}", BehaviourId = id, Behaviour = Draft(id, polarity) }, _hr);

    private static BehaviourDraft Draft(string name, Polarity polarity) => new()
    {
        Name = name,
        Description = $"{name}: what it looks like",
        Polarity = polarity,
        Examples = { "An example" },
        Dimensions = { new DimensionLink { DimensionId = "openness", Weight = 0.7 } },
    };
}
