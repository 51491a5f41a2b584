using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using BaselinesV1 = Transformation.Baselines.V1;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>The service over real gRPC, PostgreSQL and RabbitMQ; one host and seeded copies per class, ids unique per test.</summary>
public sealed class InitiativesServiceTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private InitiativesHost _host = null!;
    private string _manager = "";
    private string _sponsor = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _manager = _host.Token("cm-1", Roles.ChangeManager, Roles.Employee);
        _sponsor = _host.Token("exec-1", Roles.Executive, Roles.Employee);
        await _host.SeedAsync(
            [("org", ""), ("sales", "org"), ("sales-north", "sales"), ("ops", "org")],
            [("exec-1", "org"), ("exec-2", "org"), ("cm-1", "org"), ("e1", "sales"), ("e2", "sales-north"), ("e3", "sales-north"), ("e4", "sales"), ("o1", "ops")],
            [("helps-customers", Polarity.Desired), ("speaks-up", Polarity.Desired), ("belittles", Polarity.Unacceptable)], Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    private static InitiativeDraft Draft(string name = "Customer first") => new()
    {
        Name = name,
        Purpose = "Put the customer at the centre",
        SponsorId = "exec-1",
        ScopeOrgUnitIds = { "sales" },
        DimensionIds = { "customer-centricity" },
        TargetBehaviourIds = { "helps-customers", "belittles" },
        Goals =
        {
            new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Target = 0.5 },
            new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 10 },
            new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "customer-centricity" },
        },
        Milestones =
        {
            new Milestone { MilestoneId = "half", Name = "Half of sales", GoalId = "adoption", Target = 0.5, DueOn = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(60)) },
        },
    };

    private static ObservationInput Observation(string key, string employee = "e1", string behaviour = "helps-customers", string initiative = "") => new()
    {
        IdempotencyKey = key,
        EmployeeId = employee,
        BehaviourId = behaviour,
        Source = ObservationSource.Manager,
        ObserverId = "cm-1",
        ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        Evidence = "https://crm.example/case/1",
        InitiativeId = initiative,
    };

    private async Task<string> ActiveInitiativeAsync(string key)
    {
        var proposed = await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = key, Initiative = Draft() }, _manager);
        var id = proposed.Initiative.InitiativeId;
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = key + "-s", InitiativeId = id }, _sponsor);
        await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = key + "-a", InitiativeId = id }, _manager);
        return id;
    }

    private Task<GetInitiativeResponse> GetAsync(string id) =>
        _host.CallAsync<GetInitiativeRequest, GetInitiativeResponse>("GetInitiative", new GetInitiativeRequest { InitiativeId = id }, _sponsor);

    private async Task<Initiative> WaitForProgressAsync(string id, Func<Initiative, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var initiative = (await GetAsync(id)).Initiative;
            if (condition(initiative))
            {
                return initiative;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Progress never matched: {initiative.Progress}");
            }

            await Task.Delay(100, Ct);
        }
    }

    // ---- Lifecycle ----

    [Fact]
    public async Task TheLifecycleRunsFromProposedToCompletedWithItsEventsAndAProposalRetryIsTheSameInitiative()
    {
        var request = new ProposeInitiativeRequest { IdempotencyKey = "life-1", Initiative = Draft() };
        var first = await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", request, _manager);
        var retry = await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", request, _manager);
        retry.Initiative.InitiativeId.ShouldBe(first.Initiative.InitiativeId);
        first.Initiative.Status.ShouldBe(InitiativeStatus.Proposed);
        first.Initiative.Definition.ChangeManagerId.ShouldBe("cm-1");
        var id = first.Initiative.InitiativeId;

        (await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s", InitiativeId = id }, _sponsor)).Initiative.Status.ShouldBe(InitiativeStatus.Sponsored);
        (await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a", InitiativeId = id }, _manager)).Initiative.Status.ShouldBe(InitiativeStatus.Active);
        (await _host.CallAsync<CompleteInitiativeRequest, CompleteInitiativeResponse>("CompleteInitiative",
            new CompleteInitiativeRequest { IdempotencyKey = "c", InitiativeId = id }, _manager)).Initiative.Status.ShouldBe(InitiativeStatus.Completed);

        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-proposed'", Ct, id)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-sponsored'", Ct, id)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-status-changed'", Ct, id)).ShouldBe(2);

        var cancel = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<CancelInitiativeRequest, CancelInitiativeResponse>("CancelInitiative",
            new CancelInitiativeRequest { IdempotencyKey = "x", InitiativeId = id }, _sponsor));
        cancel.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var portfolio = await _host.CallAsync<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives",
            new ListInitiativesRequest { Status = InitiativeStatus.Completed }, _sponsor);
        portfolio.Initiatives.Select(i => i.InitiativeId).ShouldContain(id);
    }

    [Fact]
    public async Task OnlyTheNamedExecutiveSponsorsAndOnlyItsChangeManagerRunsIt()
    {
        var id = (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "perm-1", Initiative = Draft() }, _manager)).Initiative.InitiativeId;

        var wrongExecutive = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s", InitiativeId = id }, _host.Token("exec-2", Roles.Executive)));
        wrongExecutive.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var notExecutive = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s", InitiativeId = id }, _host.Token("exec-1", Roles.Employee)));
        notExecutive.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s", InitiativeId = id }, _sponsor);

        var otherManager = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a", InitiativeId = id }, _host.Token("cm-2", Roles.ChangeManager)));
        otherManager.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var employee = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "p", Initiative = Draft() }, _host.Token("e1", Roles.Employee)));
        employee.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await GetAsync(id)).Initiative.Status.ShouldBe(InitiativeStatus.Sponsored);

        // Change managers list only what they manage.
        var mine = await _host.CallAsync<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives", new ListInitiativesRequest(), _host.Token("cm-2", Roles.ChangeManager));
        mine.Initiatives.ShouldBeEmpty();
    }

    [Fact]
    public async Task EmployeesListOnlyTheRunningInitiativesThatReachTheirUnit()
    {
        var sales = await ActiveInitiativeAsync("reach-sales");
        var proposed = (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "reach-proposed", Initiative = Draft("Not started") }, _manager)).Initiative.InitiativeId;
        var opsDraft = Draft("Ops first");
        opsDraft.ScopeOrgUnitIds.Clear();
        opsDraft.ScopeOrgUnitIds.Add("ops");
        var ops = (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "reach-ops", Initiative = opsDraft }, _manager)).Initiative.InitiativeId;
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "reach-ops-s", InitiativeId = ops }, _sponsor);
        await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "reach-ops-a", InitiativeId = ops }, _manager);

        async Task<List<Initiative>> ReachingAsync(string employee) =>
            [.. (await _host.CallAsync<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives", new ListInitiativesRequest { ReachingMe = true },
                _host.Token(employee, Roles.Employee))).Initiatives];

        // e2 works in sales-north, under sales: the active sales initiative reaches them; a proposal and ops' do not.
        var e2 = await ReachingAsync("e2");
        e2.Select(i => i.InitiativeId).ShouldContain(sales);
        e2.Select(i => i.InitiativeId).ShouldNotContain(proposed);
        e2.Select(i => i.InitiativeId).ShouldNotContain(ops);
        e2.ShouldAllBe(i => (i.Status == InitiativeStatus.Active || i.Status == InitiativeStatus.Completed)
            && i.Definition.ScopeOrgUnitIds.Any(u => u == "sales" || u == "sales-north" || u == "org"));
        (await ReachingAsync("o1")).Select(i => i.InitiativeId).ShouldBe([ops]);

        // Without asking for their own, an employee lists nothing.
        var denied = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives",
            new ListInitiativesRequest(), _host.Token("e1", Roles.Employee)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task AProposalWithUnknownReferencesNamesItsFieldsAndStoresNothing()
    {
        var draft = Draft();
        draft.SponsorId = "nobody";
        draft.TargetBehaviourIds.Add("made-up");
        draft.ScopeOrgUnitIds.Add("atlantis");
        draft.Goals[0].Target = 3;
        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "bad-1", Initiative = draft }, _manager));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["initiative.goals[0].target"]);

        draft.Goals[0].Target = 0.5;
        invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "bad-1", Initiative = draft }, _manager));
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field)
            .ShouldBe(["initiative.target_behaviour_ids[2]", "initiative.sponsor_id", "initiative.scope_org_unit_ids[1]"], ignoreOrder: true);
        (await _host.ScalarAsync("SELECT count(*) FROM actor_state WHERE actor_type = 'initiative' AND state->>'proposalKey' = 'bad-1'", Ct)).ShouldBe(0);
    }

    // ---- Observations ----

    [Fact]
    public async Task AnObservationIsStoredAndPublishedOnceAndARetryReturnsTheFirstId()
    {
        var request = new RecordObservationRequest { Observation = Observation("obs-retry", employee: "e2") };
        var first = await _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", request, _manager);
        var retry = await _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", request, _manager);
        first.Created.ShouldBeTrue();
        retry.Created.ShouldBeFalse();
        retry.ObservationId.ShouldBe(first.ObservationId);
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key = 'obs-retry'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'behaviour-observed' AND convert_from(envelope, 'UTF8') LIKE '%' || @p || '%'",
            Ct, first.ObservationId)).ShouldBe(1);
        // The event carries the unit the employee was in (other tests of this class observe e2 too: look at this one only).
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'behaviour-observed' AND aggregate_id = 'e2' AND convert_from(envelope, 'UTF8') LIKE '%' || @p || '%' AND convert_from(envelope, 'UTF8') LIKE '%sales-north%'",
            Ct, first.ObservationId)).ShouldBe(1);

        var changed = request.Clone();
        changed.Observation.Evidence = "something else";
        var reused = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", changed, _manager));
        reused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task ConcurrentDuplicatesOfOneKeyMakeOneObservationAndOneEvent()
    {
        var request = new RecordObservationRequest { Observation = Observation("obs-parallel", employee: "e3") };
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", request, _manager)));
        responses.Select(r => r.ObservationId).Distinct().Count().ShouldBe(1);
        responses.Count(r => r.Created).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key = 'obs-parallel'", Ct)).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'behaviour-observed' AND convert_from(envelope, 'UTF8') LIKE '%' || @p || '%'",
            Ct, responses[0].ObservationId)).ShouldBe(1);
    }

    [Fact]
    public async Task GrantedRewardsAreKeptOnceEachAndAGrantArrivingAfterItsRevocationDoesNotReviveIt()
    {
        // The revocation of r-late overtakes its grant (they travel on two queues).
        await _host.PublishAsync([new RewardRevoked { RewardId = "r-late", ObservationId = "o-late", EmployeeId = "e1", Points = 5, RevokedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) }], Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM rewards WHERE reward_id = 'r-late'", 1, Ct);

        // Grants of one delivery batch, one of them delivered twice (two events of one reward).
        var grants = Enumerable.Range(0, 40).Select(i => new RewardGranted
        {
            RewardId = $"r-{i}", ObservationId = $"o-{i}", EmployeeId = "e4", BehaviourId = "helps-customers", Points = 5, InitiativeId = "i-rewards",
            GrantedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        }).ToList();
        grants.Add(grants[7].Clone());
        grants.Add(new RewardGranted { RewardId = "r-late", ObservationId = "o-late", EmployeeId = "e1", BehaviourId = "helps-customers", Points = 5, GrantedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) });
        await _host.PublishAsync(grants, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM rewards WHERE initiative_id = 'i-rewards' AND granted_at IS NOT NULL AND revoked_at IS NULL", 40, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM eventbus_inbox WHERE consumer LIKE '%reward-granted'", grants.Count, Ct);

        (await _host.ScalarAsync("SELECT count(*) FROM rewards WHERE reward_id LIKE 'r-%'", Ct)).ShouldBe(41);
        (await _host.ScalarAsync("SELECT count(*) FROM rewards WHERE reward_id = 'r-late' AND revoked_at IS NOT NULL AND granted_at IS NULL", Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task AnUnknownBehaviourOrEmployeeIsRejectedWithFieldViolationsAndNothingStored()
    {
        var bad = Observation("obs-bad", employee: "ghost", behaviour: "made-up");
        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest { Observation = bad }, _manager));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field)
            .ShouldBe(["observation.behaviour_id", "observation.employee_id"], ignoreOrder: true);

        var wrongPolarity = Observation("obs-bad-2", behaviour: "belittles");
        wrongPolarity.Polarity = Polarity.Desired;
        invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest { Observation = wrongPolarity }, _manager));
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("observation.polarity");
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key LIKE 'obs-bad%'", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task EmployeesDoNotRecordObservationsSoPeerRecognitionKeepsItsAllowance()
    {
        // An employee naming themself as the peer observer of a colleague went around the allowance (and the call-out rules).
        var employee = _host.Token("e4", Roles.Employee);
        foreach (var behaviour in new[] { "helps-customers", "belittles" })
        {
            var peer = Observation($"peer-{behaviour}", employee: "e1", behaviour: behaviour);
            peer.Source = ObservationSource.Peer;
            peer.ObserverId = "e4";
            var denied = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
                new RecordObservationRequest { Observation = peer }, employee));
            denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key LIKE 'peer-%'", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task NobodyIsObservedOnTheirOwnWordAndObservationsStayInTheInitiativesScope()
    {
        var id = await ActiveInitiativeAsync("self-1");
        var self = Observation("self-o1", employee: "cm-1", initiative: id);
        self.ObserverId = "exec-1";
        var ownWord = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest { Observation = self }, _manager));
        ownWord.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["observation.employee_id"]);

        // o1 works in ops, outside the initiative's scope (sales and the units below it); e2 works in sales-north, inside it.
        var outside = await Should.ThrowAsync<RpcException>(() => _host.StreamAsync(
            [Observation("self-o2", employee: "e2", initiative: id), Observation("self-o3", employee: "o1", initiative: id)], _manager));
        outside.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("observations[1].employee_id");
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key LIKE 'self-%'", Ct)).ShouldBe(0);

        (await _host.StreamAsync([Observation("self-o2", employee: "e2", initiative: id)], _manager)).Created.ShouldBe(1);
    }

    [Fact]
    public async Task AKeyRepeatedInOneStreamWithAnotherBodyIsRefusedAndNothingIsStored()
    {
        var first = Observation("dup-body-1", employee: "e1");
        var same = first.Clone();
        var other = Observation("dup-body-1", employee: "e4");
        var refused = await Should.ThrowAsync<RpcException>(() => _host.StreamAsync([first, same, other], _manager));
        refused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        refused.Status.Detail.ShouldContain("dup-body-1");
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key = 'dup-body-1'", Ct)).ShouldBe(0);

        // The same key with the same body is a duplicate, as before.
        var accepted = await _host.StreamAsync([first, same], _manager);
        (accepted.Created, accepted.Duplicates).ShouldBe((1, 1));
    }

    [Fact]
    public async Task AStreamIsAllOrNothingAndNamesTheIndexOfTheBadItem()
    {
        var inputs = Enumerable.Range(0, 1200).Select(i => Observation($"bulk-bad-{i}", employee: i % 2 == 0 ? "e1" : "e4")).ToList();
        inputs[700].EmployeeId = "ghost";
        var invalid = await Should.ThrowAsync<RpcException>(() => _host.StreamAsync(inputs, _manager));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("observations[700].employee_id");
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key LIKE 'bulk-bad-%'", Ct)).ShouldBe(0);

        var good = Enumerable.Range(0, 1100).Select(i => Observation($"bulk-good-{i}", employee: "e1")).ToList();
        good.AddRange(good.Take(100).Select(o => o.Clone()).ToList());
        var response = await _host.StreamAsync(good, _manager);
        response.Created.ShouldBe(1100);
        response.Duplicates.ShouldBe(100);
        response.ObservationIds.Count.ShouldBe(1200);
        response.ObservationIds[1100].ShouldBe(response.ObservationIds[0]);
        var again = await _host.StreamAsync(good.Take(10), _manager);
        again.Created.ShouldBe(0);
        again.ObservationIds.ShouldBe(response.ObservationIds.Take(10));
        (await _host.ScalarAsync("SELECT count(*) FROM observations WHERE idempotency_key LIKE 'bulk-good-%'", Ct)).ShouldBe(1100);
        var hr = _host.Token("hr-1", Roles.Hr);
        var page = await _host.CallAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations",
            new ListObservationsRequest { EmployeeId = "e1", PageSize = 50 }, hr);
        page.Observations.Count.ShouldBe(50);
        page.NextPageToken.ShouldNotBeEmpty();
        var next = await _host.CallAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations",
            new ListObservationsRequest { EmployeeId = "e1", PageSize = 50, PageToken = page.NextPageToken }, hr);
        next.Observations.Select(o => o.ObservationId).Intersect(page.Observations.Select(o => o.ObservationId)).ShouldBeEmpty();
    }

    // ---- Progress and stories ----

    /// <summary>Baselines' ScoresPublished as Baselines sends it (published now): one score per unit of the population with its descendants.</summary>
    private Task PublishScoresAsync(string assessmentId, DateTimeOffset closedAt, params BaselinesV1.Score[] scores) => _host.PublishAsync(
    [
        new BaselinesV1.ScoresPublished
        {
            AssessmentId = assessmentId,
            PublishedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Assessment = new BaselinesV1.Assessment
            {
                AssessmentId = assessmentId, Title = "Pulse " + assessmentId, ClosesAt = Timestamp.FromDateTimeOffset(closedAt),
                Status = BaselinesV1.AssessmentStatus.Closed, Published = true, PopulationOrgUnitIds = { "org" },
            },
            Scores = { scores },
            MinimumGroupSize = 5,
        },
    ], Ct);

    private static BaselinesV1.Score Listening(string unit, double mean, long n) =>
        new() { DimensionId = "listening", OrgUnitId = unit, IncludeDescendants = true, N = n, Mean = mean };

    private static BaselinesV1.Score Suppressed(string unit) => new() { DimensionId = "listening", OrgUnitId = unit, IncludeDescendants = true, Suppressed = true };

    [Fact]
    public async Task APublishedAssessmentReachesTheSurveyGoalWhichCitesItAndNeverUsesASuppressedScore()
    {
        var draft = Draft("Listening sales");
        draft.Goals.Clear();
        draft.Goals.Add(new Goal { GoalId = "listening", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "listening" });
        draft.Milestones.Clear();
        draft.Milestones.Add(new Milestone
        {
            MilestoneId = "heard", Name = "Sales feels heard", GoalId = "listening", Target = 4, DueOn = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(90)),
        });

        // Published before the initiative starts: its "before".
        await PublishScoresAsync("sv-q1", DateTimeOffset.UtcNow.AddDays(-30), Listening("org", 3.0, 40), Listening("sales", 3.2, 20), Suppressed("ops"));
        await _host.WaitUntilAsync("SELECT count(*) FROM published_assessments WHERE assessment_id = @p", 1, Ct, "sv-q1");
        var id = (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = "sv-1", Initiative = draft }, _manager)).Initiative.InitiativeId;
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "sv-1-s", InitiativeId = id }, _sponsor);
        var started = (await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "sv-1-a", InitiativeId = id }, _manager)).Initiative.Progress.Goals.Single();
        (started.Value, started.Survey.AssessmentId, started.Survey.AssessmentTitle, started.Survey.Respondents).ShouldBe((3.2, "sv-q1", "Pulse sv-q1", 20L));

        // Two later publications: the latest measured suppressed sales (too few answered), so the goal reads the one before it.
        await PublishScoresAsync("sv-q2", DateTimeOffset.UtcNow.AddDays(-10), Listening("org", 3.9, 40), Listening("sales", 4.1, 25), Listening("ops", 3.7, 15));
        await PublishScoresAsync("sv-q3", DateTimeOffset.UtcNow.AddDays(-1), Listening("org", 3.5, 12), Suppressed("sales"), Suppressed("ops"));
        await _host.WaitUntilAsync("SELECT count(*) FROM published_assessments WHERE assessment_id LIKE 'sv-q%'", 3, Ct);
        var followed = await WaitForProgressAsync(id, i => i.Progress.Goals.Single().Survey?.AssessmentId == "sv-q2");
        followed.Progress.Goals.Single().Value.ShouldBe(4.1);
        followed.Definition.Milestones.Single().ReachedAt.ShouldNotBeNull();
        await _host.WaitUntilAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'milestone-reached' AND aggregate_id = @p", 1, Ct, id);
        (await _host.ScalarAsync("""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'initiative-progressed' AND aggregate_id = @p
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' -> 'goals' -> 0 -> 'survey' ->> 'assessmentId' = 'sv-q2'
            """, Ct, id)).ShouldBe(1);

        // A story cites both assessments: the score when the initiative started and the latest.
        var story = (await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", new DraftSuccessStoryRequest
        {
            IdempotencyKey = "sv-story", InitiativeId = id, Title = "Sales feels heard", Body = "The pulse says so.",
        }, _manager)).Story;
        var evidence = story.Evidence.Goals.Single();
        evidence.Kind.ShouldBe(GoalKind.SurveyScore);
        (evidence.Before, evidence.BeforeSurvey.AssessmentId, evidence.After, evidence.AfterSurvey.AssessmentId).ShouldBe((3.2, "sv-q1", 4.1, "sv-q2"));
    }

    [Fact]
    public async Task TheInitiativeFoldsObservationsIntoProgressReachesItsMilestoneAndPublishesAStory()
    {
        var id = await ActiveInitiativeAsync("prog-1");
        await _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest { Observation = Observation("prog-o1", employee: "e2", initiative: id) }, _manager);
        var progressed = await WaitForProgressAsync(id, i => i.Progress.DesiredObservations >= 1);
        progressed.Progress.PeopleInScope.ShouldBe(4); // sales and sales-north
        progressed.Progress.Goals.Single(g => g.GoalId == "adoption").Value.ShouldBe(0.25);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'milestone-reached' AND aggregate_id = @p", Ct, id)).ShouldBe(0);

        // Unlinked observations of a target behaviour in scope count too; one outside scope (ops) does not; unacceptable ones count apart.
        var response = await _host.StreamAsync(
        [
            Observation("prog-o2", employee: "e3"),
            Observation("prog-o3", employee: "o1"),
            Observation("prog-o4", employee: "e1", behaviour: "belittles"),
            Observation("prog-o5", employee: "e2", behaviour: "speaks-up"),
        ], _manager);
        response.Created.ShouldBe(4);
        var reached = await WaitForProgressAsync(id, i => i.Progress.DesiredObservations >= 2 && i.Progress.UnacceptableObservations >= 1);
        reached.Progress.DesiredObservations.ShouldBe(2);
        reached.Progress.Goals.Single(g => g.GoalId == "adoption").Value.ShouldBe(0.5);
        reached.Definition.Milestones.Single().ReachedAt.ShouldNotBeNull();
        await _host.WaitUntilAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'milestone-reached' AND aggregate_id = @p", 1, Ct, id);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'initiative-progressed' AND aggregate_id = @p", Ct, id)).ShouldBeGreaterThanOrEqualTo(2);

        // Nobody types a survey score: the retired call says where scores come from and changes nothing; none is published yet.
        var typed = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SetSurveyScoreRequest, SetSurveyScoreResponse>("SetSurveyScore",
            new SetSurveyScoreRequest { IdempotencyKey = "sv", InitiativeId = id, GoalId = "survey", Score = 3.5 }, _manager));
        typed.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        typed.Status.Detail.ShouldContain("Baselines");
        var noScore = (await GetAsync(id)).Initiative.Progress.Goals.Single(g => g.GoalId == "survey");
        (noScore.Value, noScore.Survey).ShouldBe((0, null));

        // A story: drafted by the change manager, published by the sponsor only, then on the feed with reactions once per person.
        var observationId = (await _host.CallAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations",
            new ListObservationsRequest { InitiativeId = id }, _manager)).Observations.Single().ObservationId;
        var story = (await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", new DraftSuccessStoryRequest
        {
            IdempotencyKey = "story-1", InitiativeId = id, Title = "Sales listens", Body = "Half of sales helped a customer.", ObservationIds = { observationId },
        }, _manager)).Story;
        story.Evidence.Goals.Single(g => g.GoalId == "adoption").After.ShouldBe(0.5);
        story.Evidence.Goals.Single(g => g.GoalId == "adoption").Before.ShouldBe(0);
        story.Evidence.Goals.Single(g => g.GoalId == "survey").ShouldSatisfyAllConditions(g => g.BeforeSurvey.ShouldBeNull(), g => g.AfterSurvey.ShouldBeNull());
        var notManager = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory",
            new DraftSuccessStoryRequest { IdempotencyKey = "story-x", InitiativeId = id, Title = "t", Body = "b" }, _host.Token("cm-2", Roles.ChangeManager)));
        notManager.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory",
            new SubmitSuccessStoryRequest { IdempotencyKey = "sub", StoryId = story.StoryId }, _manager);
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory",
            new SubmitSuccessStoryRequest { IdempotencyKey = "sub-again", StoryId = story.StoryId }, _manager); // submitted already: nothing more
        // Issue 25: the wait is published with the submission, naming the sponsor who may publish the story.
        (await _host.ScalarAsync("""
            SELECT count(*) FROM eventbus_outbox WHERE topic = 'success-story-submitted' AND aggregate_id = @p
              AND convert_from(envelope, 'UTF8')::jsonb -> 'data' -> 'sponsorIds' = '["exec-1"]'::jsonb
            """, Ct, id)).ShouldBe(1);
        var wrongSponsor = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<PublishSuccessStoryRequest, PublishSuccessStoryResponse>("PublishSuccessStory",
            new PublishSuccessStoryRequest { IdempotencyKey = "pub", StoryId = story.StoryId }, _host.Token("exec-2", Roles.Executive)));
        wrongSponsor.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var published = (await _host.CallAsync<PublishSuccessStoryRequest, PublishSuccessStoryResponse>("PublishSuccessStory",
            new PublishSuccessStoryRequest { IdempotencyKey = "pub", StoryId = story.StoryId }, _sponsor)).Story;
        published.Status.ShouldBe(StoryStatus.Published);
        published.ApprovedBy.ShouldBe("exec-1");
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'success-story-published' AND aggregate_id = @p", Ct, id)).ShouldBe(1);

        var reader = _host.Token("e4", Roles.Employee);
        var feed = await _host.CallAsync<ListSuccessStoriesRequest, ListSuccessStoriesResponse>("ListSuccessStories", new ListSuccessStoriesRequest(), reader);
        feed.Stories.Select(s => s.StoryId).ShouldContain(story.StoryId);
        (await _host.CallAsync<ReactToSuccessStoryRequest, ReactToSuccessStoryResponse>("ReactToSuccessStory",
            new ReactToSuccessStoryRequest { StoryId = story.StoryId, Reaction = "applause" }, reader)).Reactions.ShouldBe(1);
        (await _host.CallAsync<ReactToSuccessStoryRequest, ReactToSuccessStoryResponse>("ReactToSuccessStory",
            new ReactToSuccessStoryRequest { StoryId = story.StoryId, Reaction = "applause" }, reader)).Reactions.ShouldBe(1);
        (await _host.CallAsync<ReactToSuccessStoryRequest, ReactToSuccessStoryResponse>("ReactToSuccessStory",
            new ReactToSuccessStoryRequest { StoryId = story.StoryId, Reaction = "heart" }, _sponsor)).Reactions.ShouldBe(2);
    }

    [Fact]
    public async Task UnpublishedStoriesAreListedByStatusToTheirAuthorsAndToHrAndExecutivesOnly()
    {
        var id = await ActiveInitiativeAsync("unpub");
        async Task<string> DraftAsync(string key, string title) => (await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory",
            new DraftSuccessStoryRequest { IdempotencyKey = key, InitiativeId = id, Title = title, Body = "What changed." }, _manager)).Story.StoryId;
        var first = await DraftAsync("unpub-1", "First draft");
        var second = await DraftAsync("unpub-2", "Second draft");
        var submitted = await DraftAsync("unpub-3", "Ready for the sponsor");
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory",
            new SubmitSuccessStoryRequest { IdempotencyKey = "unpub-sub", StoryId = submitted }, _manager);

        async Task<List<string>> ListAsync(StoryStatus status, string token) =>
            [.. (await _host.CallAsync<ListSuccessStoriesRequest, ListSuccessStoriesResponse>("ListSuccessStories",
                new ListSuccessStoriesRequest { InitiativeId = id, Status = status }, token)).Stories.Select(s => s.StoryId)];

        (await ListAsync(StoryStatus.Draft, _manager)).ShouldBe([second, first]); // the latest written first
        (await ListAsync(StoryStatus.Submitted, _manager)).ShouldBe([submitted]);
        (await ListAsync(StoryStatus.Submitted, _sponsor)).ShouldBe([submitted]);
        (await ListAsync(StoryStatus.Draft, _host.Token("hr-1", Roles.Hr))).ShouldBe([second, first]);
        (await ListAsync(StoryStatus.Draft, _host.Token("cm-2", Roles.ChangeManager))).ShouldBeEmpty(); // not theirs
        (await ListAsync(StoryStatus.Submitted, _host.Token("e4", Roles.Employee))).ShouldBeEmpty();
        (await ListAsync(StoryStatus.Unspecified, _host.Token("e4", Roles.Employee))).ShouldBeEmpty(); // nothing published yet
    }
}
