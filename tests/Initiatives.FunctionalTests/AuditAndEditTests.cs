using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.Audit.V1;
using Transformation.GrpcHosting;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>UpdateInitiative and the audit trail of initiatives and stories, over the real service, database and broker.</summary>
public sealed class AuditAndEditTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private InitiativesHost _host = null!;
    private string _manager = "";
    private string _sponsor = "";
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _manager = _host.Token("cm-1", Roles.ChangeManager, Roles.Employee);
        _sponsor = _host.Token("exec-1", Roles.Executive, Roles.Employee);
        _hr = _host.Token("hr-1", Roles.Hr, Roles.Employee);
        await _host.SeedAsync(
            [("org", ""), ("sales", "org"), ("sales-north", "sales"), ("ops", "org")],
            [("exec-1", "org"), ("cm-1", "org"), ("e1", "sales"), ("e2", "sales-north"), ("e3", "sales-north"), ("e4", "sales"), ("o1", "ops")],
            [("helps-customers", Polarity.Desired), ("speaks-up", Polarity.Desired), ("belittles", Polarity.Unacceptable)], Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    private static InitiativeDraft Draft() => new()
    {
        Name = "Customer first",
        Purpose = "Put the customer at the centre",
        SponsorId = "exec-1",
        ScopeOrgUnitIds = { "sales" },
        TargetBehaviourIds = { "helps-customers", "belittles" },
        Goals =
        {
            new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Target = 0.5 },
            new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 10 },
            new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "customer-centricity" },
        },
        Milestones =
        {
            new Milestone { MilestoneId = "ten", Name = "Ten helped", GoalId = "count", Target = 10, DueOn = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(60)) },
        },
    };

    private static InitiativeChanges Changes(Action<InitiativeChanges>? change = null)
    {
        var draft = Draft();
        var changes = new InitiativeChanges
        {
            Name = draft.Name, Purpose = draft.Purpose, ScopeOrgUnitIds = { draft.ScopeOrgUnitIds }, DimensionIds = { draft.DimensionIds },
            TargetBehaviourIds = { draft.TargetBehaviourIds }, Goals = { draft.Goals }, Milestones = { draft.Milestones },
        };
        change?.Invoke(changes);
        return changes;
    }

    private static ObservationInput Observation(string key, string employee, string behaviour = "helps-customers") => new()
    {
        IdempotencyKey = key,
        EmployeeId = employee,
        BehaviourId = behaviour,
        Source = ObservationSource.Manager,
        ObserverId = "cm-1",
        ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        Evidence = "https://crm.example/case/1",
    };

    private async Task<string> ProposeAsync(string key) =>
        (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative",
            new ProposeInitiativeRequest { IdempotencyKey = key, Initiative = Draft() }, _manager)).Initiative.InitiativeId;

    private async Task<string> ActiveAsync(string key)
    {
        var id = await ProposeAsync(key);
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = key + "-s", InitiativeId = id }, _sponsor);
        await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = key + "-a", InitiativeId = id }, _manager);
        return id;
    }

    private Task<UpdateInitiativeResponse> UpdateAsync(string id, string key, InitiativeChanges changes, string? token = null) =>
        _host.CallAsync<UpdateInitiativeRequest, UpdateInitiativeResponse>("UpdateInitiative",
            new UpdateInitiativeRequest { IdempotencyKey = key, InitiativeId = id, Initiative = changes }, token ?? _manager);

    private async Task<Initiative> GetAsync(string id) =>
        (await _host.CallAsync<GetInitiativeRequest, GetInitiativeResponse>("GetInitiative", new GetInitiativeRequest { InitiativeId = id }, _sponsor)).Initiative;

    private async Task<List<AuditEntry>> AuditAsync(string entity, string entityId, string? token = null) =>
        [.. (await _host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = entity, EntityId = entityId }, token ?? _hr)).Entries];

    private async Task<Initiative> WaitForAsync(string id, Func<Initiative, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var initiative = await GetAsync(id);
            if (condition(initiative))
            {
                return initiative;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Never matched: {initiative}");
            }

            await Task.Delay(100, Ct);
        }
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    private static string Status(string json) => Json(json).GetProperty("status").GetString()!;

    // ---- The audit trail ----

    [Fact]
    public async Task EveryChangeToAnInitiativeAndItsStoriesIsRecordedWithWhoWhenBeforeAndAfter()
    {
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        var id = await ActiveAsync("au-1");
        await UpdateAsync(id, "au-1-u", Changes(c => c.Name = "Customers first, always"));
        var story = (await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", new DraftSuccessStoryRequest
        {
            IdempotencyKey = "au-1-story", InitiativeId = id, Title = "Sales listens", Body = "A customer was helped.",
        }, _manager)).Story;
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory",
            new SubmitSuccessStoryRequest { IdempotencyKey = "au-1-sub", StoryId = story.StoryId }, _manager);
        await _host.CallAsync<PublishSuccessStoryRequest, PublishSuccessStoryResponse>("PublishSuccessStory",
            new PublishSuccessStoryRequest { IdempotencyKey = "au-1-pub", StoryId = story.StoryId }, _sponsor);
        await _host.CallAsync<ReactToSuccessStoryRequest, ReactToSuccessStoryResponse>("ReactToSuccessStory",
            new ReactToSuccessStoryRequest { StoryId = story.StoryId, Reaction = "applause" }, _host.Token("e4", Roles.Employee));
        await _host.CallAsync<CompleteInitiativeRequest, CompleteInitiativeResponse>("CompleteInitiative",
            new CompleteInitiativeRequest { IdempotencyKey = "au-1-c", InitiativeId = id }, _manager);

        var initiative = await AuditAsync("initiative", id);
        initiative.Select(e => e.ChangedBy).ShouldBe(["cm-1", "exec-1", "cm-1", "cm-1", "cm-1"]);
        initiative[0].Before.ShouldBeEmpty();
        Status(initiative[0].After).ShouldBe("INITIATIVE_STATUS_PROPOSED");
        (Status(initiative[1].Before), Status(initiative[1].After)).ShouldBe(("INITIATIVE_STATUS_PROPOSED", "INITIATIVE_STATUS_SPONSORED"));
        (Status(initiative[2].Before), Status(initiative[2].After)).ShouldBe(("INITIATIVE_STATUS_SPONSORED", "INITIATIVE_STATUS_ACTIVE"));
        Json(initiative[3].Before).GetProperty("definition").GetProperty("name").GetString().ShouldBe("Customer first");
        Json(initiative[3].After).GetProperty("definition").GetProperty("name").GetString().ShouldBe("Customers first, always");
        (Status(initiative[4].Before), Status(initiative[4].After)).ShouldBe(("INITIATIVE_STATUS_ACTIVE", "INITIATIVE_STATUS_COMPLETED"));
        initiative.ShouldAllBe(e => e.Entity == "initiative" && e.EntityId == id);
        initiative.ShouldAllBe(e => e.ChangedAt.ToDateTimeOffset() > start && e.ChangedAt.ToDateTimeOffset() < DateTimeOffset.UtcNow.AddMinutes(5));

        // Drafted, submitted, published; the reaction is not a change to audit.
        var stories = await AuditAsync("success_story", story.StoryId, _sponsor);
        stories.Select(e => e.ChangedBy).ShouldBe(["cm-1", "cm-1", "exec-1"]);
        stories[0].Before.ShouldBeEmpty();
        Status(stories[0].After).ShouldBe("STORY_STATUS_DRAFT");
        (Status(stories[1].Before), Status(stories[1].After)).ShouldBe(("STORY_STATUS_DRAFT", "STORY_STATUS_SUBMITTED"));
        (Status(stories[2].Before), Status(stories[2].After)).ShouldBe(("STORY_STATUS_SUBMITTED", "STORY_STATUS_PUBLISHED"));
        Json(stories[2].After).GetProperty("approvedBy").GetString().ShouldBe("exec-1");

        // A cancellation by the sponsor.
        var cancelled = await ProposeAsync("au-2");
        await _host.CallAsync<CancelInitiativeRequest, CancelInitiativeResponse>("CancelInitiative",
            new CancelInitiativeRequest { IdempotencyKey = "au-2-x", InitiativeId = cancelled, Reason = "Merged into another" }, _sponsor);
        var entry = (await AuditAsync("initiative", cancelled))[^1];
        (entry.ChangedBy, Status(entry.After)).ShouldBe(("exec-1", "INITIATIVE_STATUS_CANCELLED"));
    }

    [Fact]
    public async Task RetriedAndRefusedWritesAddNoEntryAndProgressFoldsAreNotAudited()
    {
        var id = await ProposeAsync("rt-1");
        await ProposeAsync("rt-1");
        var sponsor = new SponsorInitiativeRequest { IdempotencyKey = "rt-1-s", InitiativeId = id };
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            sponsor, _host.Token("exec-2", Roles.Executive)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative", sponsor, _sponsor);
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative", sponsor, _sponsor);
        await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "rt-1-a", InitiativeId = id }, _manager);
        var update = Changes(c => c.Purpose = "Retried");
        await UpdateAsync(id, "rt-1-u", update);
        (await UpdateAsync(id, "rt-1-u", update)).Initiative.Definition.Purpose.ShouldBe("Retried");
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "rt-1-u", Changes(c => c.Purpose = "Another edit, same key"))))
            .StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "rt-1-bad", Changes(c => c.Name = "")))).StatusCode.ShouldBe(StatusCode.InvalidArgument);
        (await AuditAsync("initiative", id)).Count.ShouldBe(4);

        // Observations fold into progress (a new state version), but progress is not a change by a person: no entry.
        await _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest { Observation = Observation("rt-o1", "e1") }, _manager);
        await WaitForAsync(id, i => i.Progress.DesiredObservations >= 1);
        (await AuditAsync("initiative", id)).Count.ShouldBe(4);

        var story = (await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", new DraftSuccessStoryRequest
        {
            IdempotencyKey = "rt-story", InitiativeId = id, Title = "t", Body = "b",
        }, _manager)).Story;
        await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", new DraftSuccessStoryRequest
        {
            IdempotencyKey = "rt-story", InitiativeId = id, Title = "t", Body = "b",
        }, _manager);
        var submit = new SubmitSuccessStoryRequest { IdempotencyKey = "rt-sub", StoryId = story.StoryId };
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory", submit, _manager);
        await _host.CallAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory", submit, _manager);
        (await Should.ThrowAsync<RpcException>(() => _host.CallAsync<PublishSuccessStoryRequest, PublishSuccessStoryResponse>("PublishSuccessStory",
            new PublishSuccessStoryRequest { IdempotencyKey = "rt-pub", StoryId = story.StoryId }, _host.Token("exec-2", Roles.Executive))))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await AuditAsync("success_story", story.StoryId)).Count.ShouldBe(2);
    }

    [Fact]
    public async Task OnlyHrAndExecutivesReadTheTrailAndTheDatabaseRefusesToChangeIt()
    {
        var id = await ProposeAsync("ro-1");
        foreach (var token in new[] { _manager, _host.Token("e1", Roles.Employee), _host.Token("op-1", Roles.Operator) })
        {
            (await Should.ThrowAsync<RpcException>(() => AuditAsync("initiative", id, token))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        (await AuditAsync("initiative", id, _hr)).ShouldHaveSingleItem();
        (await AuditAsync("initiative", id, _sponsor)).ShouldHaveSingleItem();

        await Should.ThrowAsync<Npgsql.PostgresException>(() => _host.ScalarAsync("UPDATE audit_log SET changed_by = 'someone' WHERE entity_id = @p RETURNING 1", Ct, id));
        await Should.ThrowAsync<Npgsql.PostgresException>(() => _host.ScalarAsync("DELETE FROM audit_log WHERE entity_id = @p RETURNING 1", Ct, id));
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p AND changed_by = 'cm-1'", Ct, id)).ShouldBe(1);
    }

    // ---- UpdateInitiative ----

    [Fact]
    public async Task OnlyItsChangeManagerEditsAnInitiativeAndOnlyWhileItIsOpen()
    {
        var id = await ActiveAsync("ed-1");
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-u", Changes(), _host.Token("cm-2", Roles.ChangeManager))))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-u", Changes(), _sponsor))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-u", Changes(), _hr))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync("no-such-initiative", "ed-1-u", Changes()))).StatusCode.ShouldBe(StatusCode.NotFound);

        var invalid = await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-bad", Changes(c =>
        {
            c.Name = "";
            c.Milestones[0].GoalId = "nope";
        })));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["initiative.name", "initiative.milestones[0].goal_id"], ignoreOrder: true);
        var unknown = await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-bad2", Changes(c =>
        {
            c.TargetBehaviourIds.Add("made-up");
            c.ScopeOrgUnitIds.Add("atlantis");
        })));
        unknown.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field)
            .ShouldBe(["initiative.target_behaviour_ids[2]", "initiative.scope_org_unit_ids[1]"], ignoreOrder: true);
        (await GetAsync(id)).Definition.Name.ShouldBe("Customer first");

        await _host.CallAsync<CompleteInitiativeRequest, CompleteInitiativeResponse>("CompleteInitiative",
            new CompleteInitiativeRequest { IdempotencyKey = "ed-1-c", InitiativeId = id }, _manager);
        (await Should.ThrowAsync<RpcException>(() => UpdateAsync(id, "ed-1-late", Changes(c => c.Name = "Too late"))))
            .StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await GetAsync(id)).Definition.Name.ShouldBe("Customer first");
        (await AuditAsync("initiative", id)).Count.ShouldBe(4);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-updated'", Ct, id)).ShouldBe(0);
    }

    [Fact]
    public async Task AProposedInitiativeIsEditedBeforeItIsSponsored()
    {
        var id = await ProposeAsync("ed-2");
        var edited = (await UpdateAsync(id, "ed-2-u", Changes(c =>
        {
            c.Purpose = "Every customer, every time";
            c.DimensionIds.Add("customer-centricity");
            c.Goals.RemoveAt(2);
        }))).Initiative;
        edited.Status.ShouldBe(InitiativeStatus.Proposed);
        var stored = await GetAsync(id);
        stored.Definition.Purpose.ShouldBe("Every customer, every time");
        stored.Definition.DimensionIds.ShouldBe(["customer-centricity"]);
        stored.Definition.Goals.Select(g => g.GoalId).ShouldBe(["adoption", "count"]);
        stored.Definition.SponsorId.ShouldBe("exec-1");
        stored.Definition.ChangeManagerId.ShouldBe("cm-1");
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-updated'", Ct, id)).ShouldBe(1);
    }

    [Fact]
    public async Task AnEditOfScopeBehavioursAndGoalsRecomputesTheProgress()
    {
        var id = await ActiveAsync("ed-3");
        // e1 is in scope (sales); o1 (ops) is not, yet.
        await _host.StreamAsync([Observation("ed-3-o1", "e1"), Observation("ed-3-o2", "o1"), Observation("ed-3-o3", "e2", "speaks-up")], _manager);
        var before = await WaitForAsync(id, i => i.Progress.DesiredObservations >= 1);
        before.Progress.DesiredObservations.ShouldBe(1);
        before.Progress.PeopleInScope.ShouldBe(4);
        before.Definition.Milestones.Single().ReachedAt.ShouldBeNull();

        // Ops joins the scope and the count goal drops to 2 with a milestone at 2: the log is folded again.
        var widened = (await UpdateAsync(id, "ed-3-u1", Changes(c =>
        {
            c.ScopeOrgUnitIds.Add("ops");
            c.Goals[1].Target = 2;
            c.Milestones[0].Target = 2;
        }))).Initiative;
        widened.Progress.DesiredObservations.ShouldBe(2);
        widened.Progress.PeopleInScope.ShouldBe(5);
        widened.Progress.Goals.Single(g => g.GoalId == "adoption").Value.ShouldBe(0.4);
        widened.Progress.Goals.Single(g => g.GoalId == "count").Target.ShouldBe(2);
        widened.Definition.Milestones.Single().ReachedAt.ShouldNotBeNull();
        (await GetAsync(id)).Definition.ScopeOrgUnitIds.ShouldBe(["sales", "ops"]);
        await _host.WaitUntilAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'milestone-reached' AND aggregate_id = @p", 1, Ct, id);

        // The target behaviours change: only speaks-up counts now (e2's one observation).
        var refocused = (await UpdateAsync(id, "ed-3-u2", Changes(c =>
        {
            c.ScopeOrgUnitIds.Add("ops");
            c.TargetBehaviourIds.Clear();
            c.TargetBehaviourIds.Add("speaks-up");
            c.Goals[1].Target = 2;
            c.Milestones[0].Target = 2;
        }))).Initiative;
        refocused.Progress.DesiredObservations.ShouldBe(1);
        refocused.Progress.Goals.Single(g => g.GoalId == "adoption").Value.ShouldBe(0.2);
        refocused.Progress.Goals.Single(g => g.GoalId == "count").Value.ShouldBe(1);
        // The milestone's goal and target are unchanged: it stays reached.
        refocused.Definition.Milestones.Single().ReachedAt.ShouldNotBeNull();
        (await GetAsync(id)).Progress.DesiredObservations.ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p AND topic = 'initiative-updated'", Ct, id)).ShouldBe(2);
    }
}
