using Grpc.Core;
using Transformation.Audit.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// The reward catalogue over real gRPC, PostgreSQL and RabbitMQ (issue 25, acceptance 3 and 4): a manager observation
/// grants 105 points (no cap, no budget), so a balance of 105 covers ten redemptions of 10 points and ends at 5.
/// </summary>
public sealed class RewardCatalogueTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private const int Granted = 105;
    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _hr = _host.Token("hr-cat", Roles.Hr, Roles.Employee);
        await _host.DefineBehaviourAsync("helps", "Helps", Polarity.Desired, _hr);
        await _host.SetRulesAsync(new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints = { new SourcePoints { Source = ObservationSource.Manager, Points = Granted } },
        }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task AHundredConcurrentRedemptionsAgainstABalanceCoveringTenGiveExactlyTenAndTheBalanceEndsAtItsExactValue()
    {
        await GrantAsync("e-many", "unit-many");
        // Four rewards of 10 points: the reward rows' locks do not order the redemptions, only the employee's ledger does.
        string[] rewards = ["mug", "cap", "pen-set", "notebook"];
        foreach (var reward in rewards)
        {
            await DefineAsync(reward, new CatalogueRewardDraft { Name = reward, PointsCost = 10 });
        }

        var token = _host.Token("e-many", Roles.Employee);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            try
            {
                return (Response: await RedeemAsync(rewards[i % rewards.Length], token, $"many-{i}"), Error: (RpcException?)null);
            }
            catch (RpcException e)
            {
                return (Response: (RedeemPointsResponse?)null, Error: e);
            }
        }));

        attempts.Count(a => a.Response is not null).ShouldBe(10);
        var refused = attempts.Where(a => a.Error is not null).Select(a => a.Error!).ToList();
        refused.Count.ShouldBe(90);
        refused.ShouldAllBe(e => e.StatusCode == StatusCode.FailedPrecondition && e.Status.Detail.Contains("your balance is 5"));
        attempts.Where(a => a.Response is not null).Select(a => a.Response!.Balance).Order().ShouldBe([5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
        var balance = await BalanceAsync("e-many", token);
        balance.Balance.ShouldBe(Granted - 100);
        balance.Spent.ShouldBe(100);
        (await _host.ScalarAsync("SELECT count(*) FROM redemptions WHERE employee_id = 'e-many' AND status = 2", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'points-redeemed' AND aggregate_id = 'e-many'", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'redemption-fulfilled' AND aggregate_id = 'e-many'", Ct)).ShouldBe(10);
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity = 'redemption' AND changed_by = 'e-many'", Ct)).ShouldBe(10);
    }

    [Fact]
    public async Task ConcurrentRedemptionsOfAStockOfThreeByDifferentPeopleGiveExactlyThree()
    {
        var people = Enumerable.Range(0, 12).Select(i => $"e-stock-{i}").ToArray();
        foreach (var person in people)
        {
            await GrantAsync(person, "unit-stock");
        }

        await DefineAsync("concert", new CatalogueRewardDraft { Name = "Concert tickets", PointsCost = 50, Stock = 3 });

        var attempts = await Task.WhenAll(people.Select(async person =>
        {
            try
            {
                await RedeemAsync("concert", _host.Token(person, Roles.Employee), $"stock-{person}");
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                e.Status.Detail.ShouldContain("out of stock");
                return e.StatusCode;
            }
        }));

        attempts.Count(a => a == StatusCode.OK).ShouldBe(3);
        attempts.Count(a => a == StatusCode.FailedPrecondition).ShouldBe(people.Length - 3);
        (await _host.ScalarAsync("SELECT stock FROM catalogue_rewards WHERE catalogue_reward_id = 'concert'", Ct)).ShouldBe(0);
        (await _host.ScalarAsync("SELECT count(*) FROM redemptions WHERE catalogue_reward_id = 'concert'", Ct)).ShouldBe(3);
        (await _host.ScalarAsync("SELECT count(DISTINCT employee_id) FROM redemptions WHERE catalogue_reward_id = 'concert'", Ct)).ShouldBe(3);
    }

    [Fact]
    public async Task ARetryWithTheSameIdempotencyKeyHasOneEffectEvenWhenConcurrent()
    {
        await GrantAsync("e-retry", "unit-retry");
        await DefineAsync("book", new CatalogueRewardDraft { Name = "Book", PointsCost = 30, Stock = 5 });
        var token = _host.Token("e-retry", Roles.Employee);

        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => RedeemAsync("book", token, "retry-1")));

        answers.Select(a => a.Redemption.RedemptionId).Distinct().Count().ShouldBe(1);
        answers.ShouldAllBe(a => a.Equals(answers[0]));
        (await RedeemAsync("book", token, "retry-1")).ShouldBe(answers[0]);
        (await BalanceAsync("e-retry", token)).Balance.ShouldBe(Granted - 30);
        (await _host.ScalarAsync("SELECT stock FROM catalogue_rewards WHERE catalogue_reward_id = 'book'", Ct)).ShouldBe(4);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'points-redeemed' AND aggregate_id = 'e-retry'", Ct)).ShouldBe(1);

        // The same key for another request is refused, not answered with the first result.
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RedeemPointsRequest, RedeemPointsResponse>("RedeemPoints",
            new RedeemPointsRequest { IdempotencyKey = "retry-1", CatalogueRewardId = "book", Quantity = 2 }, token))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task AHeldRedemptionWaitsForTheManagerOrHrARejectionRefundsItInFullAndAnApprovalFulfilsItForTheExport()
    {
        await _host.JoinAsync(Ct, ("e-held", "unit-held", "m-held"), ("m-held", "unit-held", ""), ("e-peer", "unit-held", "m-held"));
        await GrantAsync("e-held", "unit-held");
        await DefineAsync("day-off", new CatalogueRewardDraft { Name = "A day off", PointsCost = 40, Stock = 2, RequiresApproval = true });
        await DefineAsync("dinner", new CatalogueRewardDraft { Name = "=Dinner for two", PointsCost = 30, ApprovalThreshold = 50 });
        var token = _host.Token("e-held", Roles.Employee);
        var manager = _host.Token("m-held", Roles.Employee);

        var held = (await RedeemAsync("day-off", token, "held-1")).Redemption;
        held.Status.ShouldBe(RedemptionStatus.Held);
        (await BalanceAsync("e-held", token)).ShouldBe(new GetPointsBalanceResponse { EmployeeId = "e-held", Balance = Granted - 40, Granted = Granted, Held = 40 });
        (await _host.ScalarAsync("SELECT stock FROM catalogue_rewards WHERE catalogue_reward_id = 'day-off'", Ct)).ShouldBe(1);

        // Visible to the approver (the manager, and hr), not to a colleague; the redeemer and the colleague may not review it.
        (await ListAsync(manager, awaiting: true)).Select(r => r.RedemptionId).ShouldBe([held.RedemptionId]);
        (await ListAsync(_hr, awaiting: true)).Select(r => r.RedemptionId).ShouldContain(held.RedemptionId);
        (await ListAsync(_host.Token("e-peer", Roles.Employee), awaiting: true)).ShouldBeEmpty();
        (await ListAsync(token, awaiting: false)).Select(r => r.RedemptionId).ShouldBe([held.RedemptionId]);
        foreach (var denied in new[] { token, _host.Token("e-peer", Roles.Employee) })
        {
            (await Should.ThrowAsync<RpcException>(() => ReviewAsync(held.RedemptionId, ReviewDecision.Reject, denied, $"deny-{denied.Length}")))
                .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        var rejected = (await ReviewAsync(held.RedemptionId, ReviewDecision.Reject, manager, "reject-1")).Redemption;
        rejected.Status.ShouldBe(RedemptionStatus.Rejected);
        rejected.ReviewedBy.ShouldBe("m-held");
        (await ReviewAsync(held.RedemptionId, ReviewDecision.Reject, manager, "reject-1")).Redemption.ShouldBe(rejected);
        (await Should.ThrowAsync<RpcException>(() => ReviewAsync(held.RedemptionId, ReviewDecision.Approve, _hr, "approve-late")))
            .StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await BalanceAsync("e-held", token)).Balance.ShouldBe(Granted);
        (await _host.ScalarAsync("SELECT stock FROM catalogue_rewards WHERE catalogue_reward_id = 'day-off'", Ct)).ShouldBe(2);
        (await _host.ScalarAsync($"""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'points-refunded' AND aggregate_id = 'e-held'
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'redemptionId' = '{held.RedemptionId}'
              AND (convert_from(envelope, 'UTF8')::jsonb -> 'data' ->> 'points')::int = 40
            """, Ct)).ShouldBe(1);
        var trail = (await _host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = "redemption", EntityId = held.RedemptionId }, _hr)).Entries;
        trail.Select(e => e.ChangedBy).ShouldBe(["e-held", "m-held"]);
        trail[1].Before.ShouldContain("REDEMPTION_STATUS_HELD");
        trail[1].After.ShouldContain("REDEMPTION_STATUS_REJECTED");

        // Above its threshold (2 × 30 > 50) a redemption is held; hr approves it: fulfilled, in the export.
        var dinner = (await _host.CallAsync<RedeemPointsRequest, RedeemPointsResponse>("RedeemPoints",
            new RedeemPointsRequest { IdempotencyKey = "dinner-2", CatalogueRewardId = "dinner", Quantity = 2 }, token)).Redemption;
        dinner.Status.ShouldBe(RedemptionStatus.Held);
        var approved = (await ReviewAsync(dinner.RedemptionId, ReviewDecision.Approve, _hr, "approve-1")).Redemption;
        approved.Status.ShouldBe(RedemptionStatus.Fulfilled);
        approved.FulfilledAt.ShouldNotBeNull();
        (await RedeemAsync("dinner", token, "dinner-1")).Redemption.Status.ShouldBe(RedemptionStatus.Fulfilled);
        (await BalanceAsync("e-held", manager)).ShouldBe(new GetPointsBalanceResponse { EmployeeId = "e-held", Balance = Granted - 90, Granted = Granted, Spent = 90 });

        var export = await _host.CallAsync<ExportRedemptionsRequest, ExportRedemptionsResponse>("ExportRedemptions", new ExportRedemptionsRequest(), _hr);
        var lines = export.Csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("e-held") || l.StartsWith("employee_id")).ToList();
        lines[0].ShouldBe("employee_id,employee_name,reward_id,reward,quantity,points,fulfilled_at");
        lines.Skip(1).Select(l => string.Join(',', l.Split(',')[..6])).ShouldBe(["e-held,,dinner,\"'=Dinner for two\",2,60", "e-held,,dinner,\"'=Dinner for two\",1,30"]);
        lines.ShouldAllBe(l => !l.Contains("day-off"));
    }

    [Fact]
    public async Task BadInputGetsAClearErrorNamingItsFieldAndChangesNothing()
    {
        await _host.JoinAsync(Ct, ("e-bad", "unit-bad", ""));
        await GrantAsync("e-bad", "unit-bad");
        var token = _host.Token("e-bad", Roles.Employee);

        foreach (var (draft, field) in new[]
        {
            (new CatalogueRewardDraft { Name = "Negative", PointsCost = -5 }, "reward.points_cost"),
            (new CatalogueRewardDraft { Name = "Free", PointsCost = 0 }, "reward.points_cost"),
            (new CatalogueRewardDraft { Name = "  ", PointsCost = 5 }, "reward.name"),
            (new CatalogueRewardDraft { Name = "Minus stock", PointsCost = 5, Stock = -1 }, "reward.stock"),
        })
        {
            var invalid = await Should.ThrowAsync<RpcException>(() => DefineAsync("bad-reward", draft));
            invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
            invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe([field]);
        }

        (await _host.ScalarAsync("SELECT count(*) FROM catalogue_rewards WHERE catalogue_reward_id = 'bad-reward'", Ct)).ShouldBe(0);

        await DefineAsync("gone", new CatalogueRewardDraft { Name = "Gone", PointsCost = 5 });
        await _host.CallAsync<ReviseCatalogueRewardRequest, ReviseCatalogueRewardResponse>("ReviseCatalogueReward", new ReviseCatalogueRewardRequest
        {
            IdempotencyKey = "withdraw-gone", CatalogueRewardId = "gone", ExpectedVersion = 1, Withdrawn = true,
            Reward = new CatalogueRewardDraft { Name = "Gone", PointsCost = 5 },
        }, _hr);
        await DefineAsync("sold-out", new CatalogueRewardDraft { Name = "Sold out", PointsCost = 5, Stock = 0 });
        await DefineAsync("elsewhere", new CatalogueRewardDraft { Name = "Elsewhere", PointsCost = 5, EligibleOrgUnitIds = { "unit-other" } });
        await DefineAsync("pricey", new CatalogueRewardDraft { Name = "Pricey", PointsCost = Granted + 1 });

        var unknown = await Should.ThrowAsync<RpcException>(() => RedeemAsync("no-such-reward", token, "bad-1"));
        unknown.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        unknown.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("catalogue_reward_id");
        var withdrawn = await Should.ThrowAsync<RpcException>(() => RedeemAsync("gone", token, "bad-2"));
        withdrawn.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        withdrawn.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Description.ShouldContain("withdrawn");
        var soldOut = await Should.ThrowAsync<RpcException>(() => RedeemAsync("sold-out", token, "bad-3"));
        soldOut.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        soldOut.Status.Detail.ShouldContain("out of stock");
        var elsewhere = await Should.ThrowAsync<RpcException>(() => RedeemAsync("elsewhere", token, "bad-4"));
        elsewhere.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        elsewhere.Status.Detail.ShouldContain("not offered to your org unit");
        var pricey = await Should.ThrowAsync<RpcException>(() => RedeemAsync("pricey", token, "bad-5"));
        pricey.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        pricey.Status.Detail.ShouldBe($"This redemption costs {Granted + 1} points; your balance is {Granted}. Nothing was spent.");
        var fields = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RedeemPointsRequest, RedeemPointsResponse>("RedeemPoints",
            new RedeemPointsRequest { IdempotencyKey = "", CatalogueRewardId = "", Quantity = 101 }, token));
        fields.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        fields.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["idempotency_key", "catalogue_reward_id", "quantity"], ignoreOrder: true);

        // What the employee is offered: neither the withdrawn reward nor another unit's.
        var offered = (await _host.CallAsync<ListCatalogueRewardsRequest, ListCatalogueRewardsResponse>("ListCatalogueRewards", new ListCatalogueRewardsRequest(), token))
            .Rewards.Select(r => r.CatalogueRewardId).ToList();
        offered.ShouldContain("sold-out");
        offered.ShouldNotContain("gone");
        offered.ShouldNotContain("elsewhere");

        (await BalanceAsync("e-bad", token)).Balance.ShouldBe(Granted);
        (await _host.ScalarAsync("SELECT count(*) FROM redemptions WHERE employee_id = 'e-bad'", Ct)).ShouldBe(0);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'points-redeemed' AND aggregate_id = 'e-bad'", Ct)).ShouldBe(0);
        (await _host.ScalarAsync("SELECT stock FROM catalogue_rewards WHERE catalogue_reward_id = 'sold-out'", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task OnlyHrDefinesRevisesAndExportsAndAnEmployeeRedeemsOnlyForThemself()
    {
        await _host.JoinAsync(Ct, ("e-self", "unit-self", "m-self"), ("e-other", "unit-self", "m-self"), ("m-self", "unit-self", ""));
        await GrantAsync("e-self", "unit-self");
        await GrantAsync("e-other", "unit-self");
        await DefineAsync("pen", new CatalogueRewardDraft { Name = "Pen", PointsCost = 5 });
        var employee = _host.Token("e-self", Roles.Employee);
        foreach (var token in new[] { employee, _host.Token("exec", Roles.Executive, Roles.ChangeManager, Roles.Employee) })
        {
            (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<DefineCatalogueRewardRequest, DefineCatalogueRewardResponse>("DefineCatalogueReward",
                new DefineCatalogueRewardRequest { IdempotencyKey = "nope", Reward = new CatalogueRewardDraft { Name = "Nope", PointsCost = 1 } }, token)))
                .StatusCode.ShouldBe(StatusCode.PermissionDenied);
            (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ExportRedemptionsRequest, ExportRedemptionsResponse>("ExportRedemptions",
                new ExportRedemptionsRequest(), token))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        // The redeemer is the caller: the request names nobody else, and another person's balance is untouched and not theirs to read.
        (await RedeemAsync("pen", employee, "self-1")).Redemption.EmployeeId.ShouldBe("e-self");
        (await BalanceAsync("e-other", _host.Token("m-self", Roles.Employee))).Balance.ShouldBe(Granted);
        (await Should.ThrowAsync<RpcException>(() => BalanceAsync("e-other", employee))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await ListAsync(_host.Token("e-other", Roles.Employee), awaiting: false)).ShouldBeEmpty();
        (await _host.ScalarAsync("SELECT count(*) FROM redemptions WHERE employee_id = 'e-other'", Ct)).ShouldBe(0);
    }

    /// <summary>A manager observation of the employee: <see cref="Granted"/> points, committed.</summary>
    private async Task GrantAsync(string employee, string unit)
    {
        await _host.PublishAsync(IncentivesHost.Observed(employee, "helps", ObservationSource.Manager, observer: $"m-of-{employee}", unit: unit), Ct);
        await _host.WaitUntilAsync($"SELECT count(*) FROM outcomes WHERE employee_id = '{employee}' AND status = 0", 1, Ct);
    }

    private Task<DefineCatalogueRewardResponse> DefineAsync(string id, CatalogueRewardDraft draft) =>
        _host.CallAsync<DefineCatalogueRewardRequest, DefineCatalogueRewardResponse>("DefineCatalogueReward",
            new DefineCatalogueRewardRequest { IdempotencyKey = $"define-{id}-{draft.Name}-{draft.PointsCost}", CatalogueRewardId = id, Reward = draft }, _hr);

    private Task<RedeemPointsResponse> RedeemAsync(string rewardId, string token, string key) =>
        _host.CallAsync<RedeemPointsRequest, RedeemPointsResponse>("RedeemPoints", new RedeemPointsRequest { IdempotencyKey = key, CatalogueRewardId = rewardId }, token);

    private Task<GetPointsBalanceResponse> BalanceAsync(string employee, string token) =>
        _host.CallAsync<GetPointsBalanceRequest, GetPointsBalanceResponse>("GetPointsBalance", new GetPointsBalanceRequest { EmployeeId = employee }, token);

    private Task<ReviewRedemptionResponse> ReviewAsync(string redemptionId, ReviewDecision decision, string token, string key) =>
        _host.CallAsync<ReviewRedemptionRequest, ReviewRedemptionResponse>("ReviewRedemption",
            new ReviewRedemptionRequest { IdempotencyKey = key, RedemptionId = redemptionId, Decision = decision }, token);

    private async Task<IReadOnlyList<Redemption>> ListAsync(string token, bool awaiting) =>
        (await _host.CallAsync<ListRedemptionsRequest, ListRedemptionsResponse>("ListRedemptions", new ListRedemptionsRequest { AwaitingMyReview = awaiting }, token))
            .Redemptions;
}
