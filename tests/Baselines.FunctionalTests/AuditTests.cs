using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Transformation.Audit.V1;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>The audit trail over the real service: one entry per accepted change, none for retries or refusals, hr and executives only, append-only.</summary>
public sealed class AuditTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private string Hr(string subject = "hr-audit") => host.Identity.TokenFor(subject, Roles.Hr);

    private string Executive => host.Identity.TokenFor("exec-audit", Roles.Executive);

    private Task<ListAuditEntriesResponse> AuditAsync(string entity = "", string entityId = "", string? token = null, int limit = 0, string pageToken = "") =>
        host.CallAsync<ListAuditEntriesRequest, ListAuditEntriesResponse>("ListAuditEntries",
            new ListAuditEntriesRequest { Entity = entity, EntityId = entityId, Limit = limit, PageToken = pageToken }, token ?? Executive);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    private async Task<string> DimensionAsync(string id, string key, string token)
    {
        await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = key, DimensionId = id, Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        }, token);
        return id;
    }

    private async Task<string> AssessmentAsync(string prefix, string unit, string token)
    {
        var dimension = await DimensionAsync($"{prefix}-dim", $"{prefix}-d", token);
        await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
        {
            IdempotencyKey = $"{prefix}-i", ItemId = $"{prefix}-item", DimensionId = dimension, Text = "I trust my team.",
        }, token);
        return (await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = $"{prefix}-a", AssessmentId = $"{prefix}-q1", Title = "Q1", Kind = AssessmentKind.Baseline,
            OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { unit }, ItemIds = { $"{prefix}-item" },
        }, token)).Assessment.AssessmentId;
    }

    [Fact]
    public async Task EveryKindOfChangeIsRecordedWithWhoWhenBeforeAndAfter()
    {
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        await host.UnitsAsync(("k-root", ""), ("k-a", "k-root"));
        var hr = Hr("hr-k");
        var assessment = await AssessmentAsync("k", "k-root", hr);
        await host.CallAsync<ReviseDimensionRequest, ReviseDimensionResponse>("ReviseDimension", new ReviseDimensionRequest
        {
            IdempotencyKey = "k-r", DimensionId = "k-dim", ExpectedVersion = 1,
            Fields = new DimensionFields { Name = "Psychological safety", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        }, hr);
        var rows = Enumerable.Range(0, 6).Select(i => new ResponseRow
        {
            Line = i + 2, RespondentToken = $"k-{i}", OrgUnitId = "k-a", TenureBand = "0-2", RoleLevel = "ic", Location = "berlin", Answers = { 4 },
        }).ToList();
        (await host.SubmitAsync(assessment, rows, hr)).Accepted.ShouldBe(6);
        (await host.SubmitAsync(assessment, rows, hr)).Accepted.ShouldBe(0); // a re-import changes nothing: no entry
        await host.CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment",
            new CloseAssessmentRequest { IdempotencyKey = "k-c", AssessmentId = assessment }, hr);
        await host.CallAsync<PublishScoresRequest, PublishScoresResponse>("PublishScores",
            new PublishScoresRequest { IdempotencyKey = "k-p", AssessmentId = assessment }, hr);
        await host.CallAsync<SetBaselineRequest, SetBaselineResponse>("SetBaseline",
            new SetBaselineRequest { IdempotencyKey = "k-b1", ScopeOrgUnitId = "k-root", AssessmentId = assessment }, hr);
        await host.CallAsync<SetBaselineRequest, SetBaselineResponse>("SetBaseline",
            new SetBaselineRequest { IdempotencyKey = "k-b2", ScopeOrgUnitId = "k-root", AssessmentId = assessment }, Hr("hr-k2"));

        var dimension = (await AuditAsync("dimension", "k-dim")).Entries;
        dimension.Count.ShouldBe(2);
        dimension[0].Before.ShouldBeEmpty();
        Json(dimension[0].After).GetProperty("fields").GetProperty("name").GetString().ShouldBe("Trust");
        Json(dimension[1].Before).GetProperty("fields").GetProperty("name").GetString().ShouldBe("Trust");
        Json(dimension[1].After).GetProperty("fields").GetProperty("name").GetString().ShouldBe("Psychological safety");
        Json(dimension[1].After).GetProperty("version").GetString().ShouldBe("2");

        var item = (await AuditAsync("item", "k-item")).Entries.ShouldHaveSingleItem();
        item.Before.ShouldBeEmpty();
        Json(item.After).GetProperty("text").GetString().ShouldBe("I trust my team.");

        // Created, responses imported (the count only: responses stay anonymous), closed, published.
        var assessments = (await AuditAsync("assessment", assessment)).Entries;
        assessments.Count.ShouldBe(4);
        assessments[0].Before.ShouldBeEmpty();
        Json(assessments[0].After).GetProperty("status").GetString().ShouldBe("ASSESSMENT_STATUS_OPEN");
        Json(assessments[1].After).GetProperty("respondents").GetString().ShouldBe("6");
        Json(assessments[2].Before).GetProperty("status").GetString().ShouldBe("ASSESSMENT_STATUS_OPEN");
        Json(assessments[2].After).GetProperty("status").GetString().ShouldBe("ASSESSMENT_STATUS_CLOSED");
        Json(assessments[3].Before).TryGetProperty("published", out _).ShouldBeFalse();
        Json(assessments[3].After).GetProperty("published").GetBoolean().ShouldBeTrue();
        assessments.ShouldNotContain(e => e.After.Contains("k-0", StringComparison.Ordinal));

        // The second baseline's before is the first (the one it supersedes).
        var baselines = (await AuditAsync("baseline", "k-root")).Entries;
        baselines.Count.ShouldBe(2);
        baselines[0].Before.ShouldBeEmpty();
        Json(baselines[0].After).GetProperty("assessmentId").GetString().ShouldBe(assessment);
        Json(baselines[1].Before).GetProperty("setBy").GetString().ShouldBe("hr-k");
        Json(baselines[1].After).GetProperty("setBy").GetString().ShouldBe("hr-k2");
        baselines[1].ChangedBy.ShouldBe("hr-k2");

        var all = dimension.Concat([item]).Concat(assessments).Concat(baselines).ToList();
        all.Take(all.Count - 1).ShouldAllBe(e => e.ChangedBy == "hr-k");
        all.ShouldAllBe(e => e.ChangedAt.ToDateTimeOffset() > start && e.ChangedAt.ToDateTimeOffset() < DateTimeOffset.UtcNow.AddMinutes(5));
        all.Select(e => e.Sequence).Distinct().Count().ShouldBe(all.Count);
    }

    [Fact]
    public async Task ARetriedWriteAndARefusedOneAddNoEntry()
    {
        await host.UnitsAsync(("r-root", ""));
        var hr = Hr();
        var define = new DefineDimensionRequest
        {
            IdempotencyKey = "r-d", DimensionId = "r-dim", Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        };
        await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", define, hr);
        await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", define, hr);
        (await AuditAsync("dimension", "r-dim")).Entries.Count.ShouldBe(1);

        // Refused: a stale revision, an existing id under a new key, invalid fields.
        var stale = await Should.ThrowAsync<RpcException>(() => host.CallAsync<ReviseDimensionRequest, ReviseDimensionResponse>("ReviseDimension",
            new ReviseDimensionRequest { IdempotencyKey = "r-r", DimensionId = "r-dim", ExpectedVersion = 7, Fields = define.Fields }, hr));
        stale.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var again = define.Clone();
        again.IdempotencyKey = "r-d2";
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", again, hr)))
            .StatusCode.ShouldBe(StatusCode.AlreadyExists);
        var invalid = define.Clone();
        invalid.IdempotencyKey = "r-d3";
        invalid.DimensionId = "r-other";
        invalid.Fields.Name = "";
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", invalid, hr)))
            .StatusCode.ShouldBe(StatusCode.InvalidArgument);
        (await AuditAsync("dimension", "r-dim")).Entries.Count.ShouldBe(1);
        (await AuditAsync("dimension", "r-other")).Entries.ShouldBeEmpty();

        // Closing twice: the retry (same key) answers as before, a second close (new key) is refused; one entry.
        var assessment = await AssessmentAsync("r", "r-root", hr);
        var close = new CloseAssessmentRequest { IdempotencyKey = "r-c", AssessmentId = assessment };
        await host.CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment", close, hr);
        await host.CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment", close, hr);
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment",
            new CloseAssessmentRequest { IdempotencyKey = "r-c2", AssessmentId = assessment }, hr))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await AuditAsync("assessment", assessment)).Entries.Count.ShouldBe(2);
        (await host.ScalarAsync($"SELECT count(*) FROM audit_log WHERE entity_id = '{assessment}'")).ShouldBe(2);
    }

    [Fact]
    public async Task OnlyHrAndExecutivesReadTheTrail()
    {
        await DimensionAsync("p-dim", "p-d", Hr());
        foreach (var role in new[] { Roles.Employee, Roles.ChangeManager, Roles.Operator, Roles.Service })
        {
            var denied = await Should.ThrowAsync<RpcException>(() => AuditAsync(token: host.Identity.TokenFor("p-" + role, role)));
            denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        (await AuditAsync("dimension", "p-dim", Hr())).Entries.ShouldHaveSingleItem().ChangedBy.ShouldBe("hr-audit");
        (await AuditAsync("dimension", "p-dim", Executive)).Entries.ShouldHaveSingleItem();
    }

    [Fact]
    public async Task TheTrailIsReadAPageAtATimeByCursor()
    {
        var hr = Hr();
        foreach (var i in Enumerable.Range(0, 5))
        {
            await DimensionAsync($"g-dim-{i}", $"g-{i}", hr);
        }

        var seen = new List<string>();
        var token = "";
        var pages = 0;
        do
        {
            var page = await AuditAsync("dimension", token: Executive, limit: 2, pageToken: token);
            page.Entries.Count.ShouldBeLessThanOrEqualTo(2);
            seen.AddRange(page.Entries.Where(e => e.EntityId.StartsWith("g-dim-", StringComparison.Ordinal)).Select(e => e.EntityId));
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0 && pages < 100);

        seen.ShouldBe(Enumerable.Range(0, 5).Select(i => $"g-dim-{i}"));
        var bad = await Should.ThrowAsync<RpcException>(() => AuditAsync(pageToken: "not-a-cursor"));
        bad.StatusCode.ShouldBe(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task TheDatabaseRefusesToChangeOrDeleteEntries()
    {
        await DimensionAsync("x-dim", "x-d", Hr());

        await Should.ThrowAsync<Npgsql.PostgresException>(() => host.ScalarAsync("UPDATE audit_log SET changed_by = 'someone' WHERE entity_id = 'x-dim' RETURNING 1"));
        await Should.ThrowAsync<Npgsql.PostgresException>(() => host.ScalarAsync("DELETE FROM audit_log WHERE entity_id = 'x-dim' RETURNING 1"));
        await Should.ThrowAsync<Npgsql.PostgresException>(() => host.ScalarAsync("TRUNCATE audit_log"));
        (await host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = 'x-dim' AND changed_by = 'hr-audit'")).ShouldBe(1);
    }
}
