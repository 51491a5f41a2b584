using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.EndState.FunctionalTests;

public sealed class WorkflowTests(EndStateHost host) : IClassFixture<EndStateHost>
{
    private string Hr => host.Identity.TokenFor("hr-1", Roles.Hr);

    private string Manager => host.Identity.TokenFor("cm-1", Roles.ChangeManager);

    private string Exec(string id) => host.Identity.TokenFor(id, Roles.Executive);

    private static EndStateDraft Draft(string vision, params string[] sponsors) => new()
    {
        Vision = vision,
        Targets =
        {
            new DimensionTarget { DimensionId = "trust", TargetScore = 4.2, TargetDate = Timestamp.FromDateTime(new DateTime(2027, 6, 30, 0, 0, 0, DateTimeKind.Utc)) },
            new DimensionTarget { DimensionId = "speak-up", TargetScore = 3.8, TargetDate = Timestamp.FromDateTime(new DateTime(2027, 12, 31, 0, 0, 0, DateTimeKind.Utc)) },
        },
        SponsorIds = { sponsors },
    };

    private async Task<EndStateVersion> DraftAsync(string scope, long expected, EndStateDraft draft, string? token = null, string? key = null) =>
        (await host.CallAsync<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = key ?? Guid.NewGuid().ToString(), ScopeOrgUnitId = scope, ExpectedVersion = expected, Draft = draft,
        }, token ?? Hr)).EndState;

    private async Task<EndStateVersion> ProposeAsync(string scope, long expected, string? token = null) =>
        (await host.CallAsync<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState", new ProposeEndStateRequest
        {
            IdempotencyKey = Guid.NewGuid().ToString(), ScopeOrgUnitId = scope, ExpectedVersion = expected,
        }, token ?? Manager)).EndState;

    private async Task<EndStateVersion> EndorseAsync(string scope, long version, string sponsorToken, string comment = "", string? key = null) =>
        (await host.CallAsync<EndorseEndStateRequest, EndorseEndStateResponse>("EndorseEndState", new EndorseEndStateRequest
        {
            IdempotencyKey = key ?? Guid.NewGuid().ToString(), ScopeOrgUnitId = scope, Version = version, Comment = comment,
        }, sponsorToken)).EndState;

    private async Task<EndStateVersion> DeclineAsync(string scope, long version, string sponsorToken, string reason) =>
        (await host.CallAsync<DeclineEndStateRequest, DeclineEndStateResponse>("DeclineEndState", new DeclineEndStateRequest
        {
            IdempotencyKey = Guid.NewGuid().ToString(), ScopeOrgUnitId = scope, Version = version, Reason = reason,
        }, sponsorToken)).EndState;

    private async Task<List<EndStateVersion>> HistoryAsync(string scope) =>
        [.. (await host.CallAsync<GetEndStateHistoryRequest, GetEndStateHistoryResponse>("GetEndStateHistory",
            new GetEndStateHistoryRequest { ScopeOrgUnitId = scope }, Hr)).Versions];

    [Fact]
    public async Task AnEmployeeSeesTheEndorsedVersionOfTheNearestScopeThatHasOneAndNeverADraftOrProposal()
    {
        await DraftAsync("if-root", 0, Draft("Customers first, everywhere.", "ceo"));
        await ProposeAsync("if-root", 1);
        await EndorseAsync("if-root", 2, Exec("ceo"));
        await DraftAsync("if-root", 3, Draft("A newer draft nobody endorsed.", "ceo"));
        await DraftAsync("if-unit", 0, Draft("The unit's own draft.", "ceo"));
        await ProposeAsync("if-unit", 1);
        var employee = host.Identity.TokenFor("e-1", Roles.Employee);

        async Task<GetEndStateInForceResponse> InForceAsync(params string[] scopes) =>
            await host.CallAsync<GetEndStateInForceRequest, GetEndStateInForceResponse>("GetEndStateInForce",
                new GetEndStateInForceRequest { ScopeOrgUnitIds = { scopes } }, employee);

        var inForce = (await InForceAsync("if-unit", "if-root")).InForce;
        (inForce.ScopeOrgUnitId, inForce.Version, inForce.Vision, inForce.SponsorIds.Single()).ShouldBe(("if-root", 3L, "Customers first, everywhere.", "ceo"));
        inForce.Targets.Select(t => (t.DimensionId, t.TargetScore)).ShouldBe([("trust", 4.2), ("speak-up", 3.8)]);
        (await InForceAsync("if-unit")).InForce.ShouldBeNull();

        // The drafts and proposals stay with their authors and sponsors.
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetEndStateRequest, GetEndStateResponse>("GetEndState",
            new GetEndStateRequest { ScopeOrgUnitId = "if-unit" }, employee))).StatusCode.ShouldBe(StatusCode.PermissionDenied);

        var none = await Should.ThrowAsync<RpcException>(() => InForceAsync());
        none.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("scope_org_unit_ids");
        var blank = await Should.ThrowAsync<RpcException>(() => InForceAsync("if-unit", ""));
        blank.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("scope_org_unit_ids[1]");
    }

    [Fact]
    public async Task ListEndStatesGivesTheLatestVersionOfEveryScopeFilteredByStatus()
    {
        await DraftAsync("ls-draft", 0, Draft("Still a draft.", "ceo"));
        await DraftAsync("ls-proposed", 0, Draft("Waiting for the sponsors.", "ceo", "cfo"));
        await ProposeAsync("ls-proposed", 1);
        await EndorseAsync("ls-proposed", 2, Exec("ceo"));
        await DraftAsync("ls-endorsed", 0, Draft("In force.", "ceo"));
        await ProposeAsync("ls-endorsed", 1);
        await EndorseAsync("ls-endorsed", 2, Exec("ceo"));

        async Task<List<EndStateVersion>> ListAsync(EndStateStatus status, string token) =>
            [.. (await host.CallAsync<ListEndStatesRequest, ListEndStatesResponse>("ListEndStates", new ListEndStatesRequest { Status = status }, token))
                .EndStates.Where(e => e.ScopeOrgUnitId.StartsWith("ls-", StringComparison.Ordinal))];

        var all = await ListAsync(EndStateStatus.Unspecified, Exec("cfo"));
        all.Select(e => (e.ScopeOrgUnitId, e.Version, e.Status)).ShouldBe(
            [("ls-draft", 1L, EndStateStatus.Draft), ("ls-endorsed", 3L, EndStateStatus.Endorsed), ("ls-proposed", 3L, EndStateStatus.Proposed)]);
        var waiting = await ListAsync(EndStateStatus.Proposed, Exec("cfo"));
        waiting.Single().ScopeOrgUnitId.ShouldBe("ls-proposed");
        waiting.Single().Endorsements.Select(e => e.SponsorId).ShouldBe(["ceo"]);
        (await ListAsync(EndStateStatus.Endorsed, Hr)).Single().Draft.Vision.ShouldBe("In force.");

        var refused = await Should.ThrowAsync<RpcException>(() => host.CallAsync<ListEndStatesRequest, ListEndStatesResponse>("ListEndStates",
            new ListEndStatesRequest(), host.Identity.TokenFor("e-1", Roles.Employee)));
        refused.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task EndorsedOnceEverySponsorHasEndorsedWithEventsAndHistory()
    {
        await DraftAsync("w1", 0, Draft("Speak up, learn fast.", "ceo", "cfo"));
        var proposed = await ProposeAsync("w1", 1);
        proposed.Status.ShouldBe(EndStateStatus.Proposed);
        var one = await EndorseAsync("w1", 2, Exec("ceo"), "Fully behind this");
        one.Status.ShouldBe(EndStateStatus.Proposed);
        var all = await EndorseAsync("w1", 3, Exec("cfo"), "Agreed");
        (all.Version, all.Status).ShouldBe((4L, EndStateStatus.Endorsed));
        all.Endorsements.Select(e => (e.SponsorId, e.Comment)).ShouldBe([("ceo", "Fully behind this"), ("cfo", "Agreed")]);
        all.Endorsements.ShouldAllBe(e => e.EndorsedAt != null);

        var current = await host.CallAsync<GetEndStateRequest, GetEndStateResponse>("GetEndState", new GetEndStateRequest { ScopeOrgUnitId = "w1" }, Exec("ceo"));
        (current.Latest.Version, current.Endorsed.Version).ShouldBe((4L, 4L));
        (await HistoryAsync("w1")).Select(v => (v.Version, v.Status, v.Change)).ShouldBe(
        [
            (1L, EndStateStatus.Draft, EndStateChange.Drafted), (2L, EndStateStatus.Proposed, EndStateChange.Proposed),
            (3L, EndStateStatus.Proposed, EndStateChange.EndorsementRecorded), (4L, EndStateStatus.Endorsed, EndStateChange.Endorsed),
        ]);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'w1' AND topic = 'end-state-proposed'")).ShouldBe(1);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'w1' AND topic = 'end-state-endorsed'")).ShouldBe(1);
    }

    [Fact]
    public async Task OnlyAuthorsDraftAndOnlyNamedExecutiveSponsorsEndorse()
    {
        var employee = host.Identity.TokenFor("e-1", Roles.Employee);
        (await Should.ThrowAsync<RpcException>(() => DraftAsync("w2", 0, Draft("Vision", "ceo"), Exec("ceo")))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => DraftAsync("w2", 0, Draft("Vision", "ceo"), employee))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await DraftAsync("w2", 0, Draft("Vision", "ceo"), Manager);
        (await Should.ThrowAsync<RpcException>(() => ProposeAsync("w2", 1, Exec("ceo")))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await ProposeAsync("w2", 1, Hr);

        // An executive who is not a named sponsor, HR, and a sponsor id without the executive role are all refused.
        (await Should.ThrowAsync<RpcException>(() => EndorseAsync("w2", 2, Exec("cto")))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => EndorseAsync("w2", 2, Hr))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => EndorseAsync("w2", 2, host.Identity.TokenFor("ceo", Roles.Hr)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => DeclineAsync("w2", 2, Exec("cto"), "No"))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { ScopeOrgUnitId = "w2" }, Manager))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await HistoryAsync("w2")).Count.ShouldBe(2);
    }

    [Fact]
    public async Task ADeclineWithAReasonSendsItBackToDraft()
    {
        await DraftAsync("w3", 0, Draft("Vision", "ceo", "cfo"));
        await ProposeAsync("w3", 1);
        await EndorseAsync("w3", 2, Exec("ceo"));
        var empty = await Should.ThrowAsync<RpcException>(() => DeclineAsync("w3", 3, Exec("cfo"), ""));
        empty.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("reason");
        var declined = await DeclineAsync("w3", 3, Exec("cfo"), "The dates are unrealistic");
        (declined.Version, declined.Status, declined.Endorsements.Count).ShouldBe((4L, EndStateStatus.Draft, 0));
        (declined.Decline.SponsorId, declined.Decline.Reason).ShouldBe(("cfo", "The dates are unrealistic"));
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'w3' AND topic = 'end-state-declined'")).ShouldBe(1);
        // Endorsing the declined version is refused: it is no longer the proposal.
        (await Should.ThrowAsync<RpcException>(() => EndorseAsync("w3", 3, Exec("cfo")))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task AnEndorsedVersionIsImmutableAndANewerEndorsedVersionSupersedesIt()
    {
        await DraftAsync("w4", 0, Draft("First vision", "ceo"));
        await ProposeAsync("w4", 1);
        var first = await EndorseAsync("w4", 2, Exec("ceo"), "Go");
        (await Should.ThrowAsync<RpcException>(() => DeclineAsync("w4", 3, Exec("ceo"), "Second thoughts"))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await Should.ThrowAsync<RpcException>(() => EndorseAsync("w4", 3, Exec("ceo")))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        // The database refuses to change a stored version.
        await Should.ThrowAsync<Npgsql.PostgresException>(() => host.ScalarAsync("UPDATE versions SET status = 1 WHERE scope_org_unit_id = 'w4' RETURNING 1"));

        // A change is a new version; the endorsed one stays in force until a newer one is endorsed.
        await DraftAsync("w4", 3, Draft("Second vision", "ceo"));
        var during = await host.CallAsync<GetEndStateRequest, GetEndStateResponse>("GetEndState", new GetEndStateRequest { ScopeOrgUnitId = "w4" }, Hr);
        (during.Latest.Version, during.Endorsed.Version, during.Endorsed.Draft.Vision).ShouldBe((4L, 3L, "First vision"));
        await ProposeAsync("w4", 4);
        await EndorseAsync("w4", 5, Exec("ceo"));

        var history = await HistoryAsync("w4");
        history[2].ShouldBe(new EndStateVersion(first) { SupersededByVersion = 6 });
        (history[5].Status, history[5].SupersededByVersion, history[5].Draft.Vision).ShouldBe((EndStateStatus.Endorsed, 0L, "Second vision"));
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'w4' AND topic = 'end-state-endorsed'");
        outbox.ShouldBe(2);
    }

    [Fact]
    public async Task EveryChangeIsAuditedWithBeforeAndAfter()
    {
        await DraftAsync("w5", 0, Draft("Vision A", "ceo"));
        await DraftAsync("w5", 1, Draft("Vision B", "ceo"), Manager);
        await ProposeAsync("w5", 2);
        await EndorseAsync("w5", 3, Exec("ceo"), "Yes");
        var entries = (await host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { ScopeOrgUnitId = "w5" }, Exec("ceo"))).Entries;
        entries.Select(e => (e.Version, e.Change, e.Actor)).ShouldBe(
            [(1L, EndStateChange.Drafted, "hr-1"), (2L, EndStateChange.Drafted, "cm-1"), (3L, EndStateChange.Proposed, "cm-1"), (4L, EndStateChange.Endorsed, "ceo")]);
        entries[0].BeforeJson.ShouldBeEmpty();
        Vision(entries[1].BeforeJson).ShouldBe("Vision A");
        Vision(entries[1].AfterJson).ShouldBe("Vision B");
        entries.ShouldAllBe(e => e.At != null);
        await Should.ThrowAsync<Npgsql.PostgresException>(() => host.ScalarAsync("DELETE FROM audit WHERE scope_org_unit_id = 'w5' RETURNING 1"));
    }

    [Fact]
    public async Task ARetryWithTheSameKeyReturnsTheFirstResultAndBadInputStoresNothing()
    {
        var first = await DraftAsync("w6", 0, Draft("Vision", "ceo"), key: "draft-1");
        var again = await DraftAsync("w6", 0, Draft("Vision", "ceo"), key: "draft-1");
        again.ShouldBe(first);
        (await HistoryAsync("w6")).Count.ShouldBe(1);

        var bad = Draft("", "ceo");
        bad.Targets[0].TargetScore = 7;
        var error = await Should.ThrowAsync<RpcException>(() => DraftAsync("w7", 0, bad));
        error.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        error.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["draft.vision", "draft.targets[0].target_score"]);
        (await host.ScalarAsync("SELECT count(*) FROM versions WHERE scope_org_unit_id = 'w7'")).ShouldBe(0);
        // A stale expected version is refused.
        (await Should.ThrowAsync<RpcException>(() => DraftAsync("w6", 0, Draft("Other", "ceo")))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    private static string Vision(string json) => JsonDocument.Parse(json).RootElement.GetProperty("draft").GetProperty("vision").GetString()!;
}
