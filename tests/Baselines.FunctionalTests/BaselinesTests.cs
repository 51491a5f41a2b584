using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

public sealed class BaselinesTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private static int _counter;

    private async Task<string> SetUpAsync(string prefix)
    {
        var n = Interlocked.Increment(ref _counter);
        string root = $"{prefix}-root", a = $"{prefix}-a", b = $"{prefix}-b";
        await host.UnitsAsync((root, ""), (a, root), (b, root));
        var dim = await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = $"d{n}", DimensionId = $"{prefix}-trust",
            Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        });
        foreach (var (item, reverse) in new[] { ("i1", false), ("i2", true) })
        {
            await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
            {
                IdempotencyKey = $"{prefix}{item}", ItemId = $"{prefix}-{item}", DimensionId = dim.Dimension.DimensionId, Text = "Statement", ReverseScored = reverse,
            });
        }

        var assessment = await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = $"a{prefix}", AssessmentId = $"{prefix}-q1", Title = "Q1", Kind = AssessmentKind.Baseline,
            OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { root }, ItemIds = { $"{prefix}-i1", $"{prefix}-i2" },
        });
        return assessment.Assessment.AssessmentId;
    }

    private static IEnumerable<ResponseRow> Rows(string unit, int count, int i1, int i2, string tenure = "0-2", int start = 0) =>
        Enumerable.Range(start, count).Select(i => new ResponseRow
        {
            Line = i + 2, RespondentToken = $"{unit}-{tenure}-{i}", OrgUnitId = unit, TenureBand = tenure, RoleLevel = "ic", Location = "berlin", Answers = { i1, i2 },
        });

    private Task<GetScoresResponse> ScoresAsync(string id, string unit, bool descendants = true, string tenure = "", string? token = null) =>
        host.CallAsync<GetScoresRequest, GetScoresResponse>("GetScores", new GetScoresRequest
        {
            AssessmentId = id, OrgUnitId = unit, IncludeDescendants = descendants, Filter = new AttributeFilter { TenureBand = tenure },
        }, token);

    [Fact]
    public async Task ScoresFlipReverseItemsAndAReImportChangesNothing()
    {
        var id = await SetUpAsync("s1");
        // i1 = 4, i2 = 2 reversed → 4: every respondent scores 4.
        var first = await host.SubmitAsync(id, Rows("s1-a", 10, 4, 2));
        first.Accepted.ShouldBe(10);
        var again = await host.SubmitAsync(id, Rows("s1-a", 10, 4, 2).Concat(Rows("s1-b", 6, 5, 1)));
        (again.Accepted, again.AlreadySubmitted).ShouldBe((6L, 10L));
        await host.CloseAsync(id);

        var score = (await ScoresAsync(id, "s1-a")).Scores.Single();
        (score.Suppressed, score.N, score.Mean, score.FavourableShare).ShouldBe((false, 10L, 4.0, 1.0));
        (await ScoresAsync(id, "s1-root")).Scores.Single().N.ShouldBe(16);
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(16);
    }

    [Fact]
    public async Task ABadRowRefusesTheWholeBatchNamingTheLineAndField()
    {
        var id = await SetUpAsync("s2");
        var rows = Rows("s2-a", 10, 4, 2).ToList();
        rows[7].Answers[1] = 9;
        var error = await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows));
        error.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        error.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("rows[line 9].answers[1]");

        rows = [.. Rows("s2-a", 10, 4, 2)];
        rows[3].OrgUnitId = "nowhere";
        (await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows))).GetDetail<BadRequest>()!.FieldViolations.Single().Field
            .ShouldBe("rows[line 5].org_unit_id");

        rows = [.. Rows("s2-a", 10, 4, 2)];
        rows[6].RespondentToken = rows[2].RespondentToken;
        (await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows))).GetDetail<BadRequest>()!.FieldViolations.Single().Field
            .ShouldBe("rows[line 8].respondent_token");
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(0);
    }

    [Fact]
    public async Task DifferencingAttacksRevealNoGroupBelowTheMinimum()
    {
        var id = await SetUpAsync("s3");
        await host.SubmitAsync(id, Rows("s3-a", 12, 4, 2));
        await host.SubmitAsync(id, Rows("s3-b", 10, 3, 3));
        await host.SubmitAsync(id, Rows("s3-b", 2, 1, 5, tenure: "10+"));
        await host.SubmitAsync(id, Rows("s3-root", 2, 5, 1, tenure: "10+"));
        await host.CloseAsync(id);

        // A small group on its own.
        (await ScoresAsync(id, "s3-b", tenure: "10+")).Scores.Single().Suppressed.ShouldBeTrue();
        // Unit with descendants minus the unit alone (2 at root).
        var withDescendants = (await ScoresAsync(id, "s3-root")).Scores.Single();
        var alone = (await ScoresAsync(id, "s3-root", descendants: false)).Scores.Single();
        var a = (await ScoresAsync(id, "s3-a")).Scores.Single();
        var b = (await ScoresAsync(id, "s3-b")).Scores.Single();
        new[] { withDescendants, alone, a, b }.Count(s => s.Suppressed).ShouldBeGreaterThanOrEqualTo(2);
        // Overlapping filters: b minus (b, tenure 0-2) would be the 2 long-tenured people.
        var bShort = (await ScoresAsync(id, "s3-b", tenure: "0-2")).Scores.Single();
        (b.Suppressed || bShort.Suppressed).ShouldBeTrue();
        // Root minus a minus b (with descendants) would be the 2 at root.
        (withDescendants.Suppressed || a.Suppressed || b.Suppressed).ShouldBeTrue();
    }

    [Fact]
    public async Task PublishingSendsEachUnitsScoresAsHrReadsThemWithSmallGroupsSuppressed()
    {
        var id = await SetUpAsync("s5");
        await host.SubmitAsync(id, Rows("s5-a", 12, 4, 2));
        await host.SubmitAsync(id, Rows("s5-b", 3, 2, 4));
        await host.CloseAsync(id);
        await host.CallAsync<PublishScoresRequest, PublishScoresResponse>("PublishScores", new PublishScoresRequest { IdempotencyKey = "p-s5", AssessmentId = id });

        var published = JsonParser.Default.Parse<ScoresPublished>(await host.LastEventDataAsync("scores-published", id));
        (published.AssessmentId, published.Assessment.Title, published.Assessment.Published, published.MinimumGroupSize).ShouldBe((id, "Q1", true, 5));
        published.Scores.Select(s => s.OrgUnitId).Order(StringComparer.Ordinal).ShouldBe(["s5-a", "s5-b", "s5-root"]);
        foreach (var score in published.Scores)
        {
            score.DimensionId.ShouldBe("s5-trust");
            score.IncludeDescendants.ShouldBeTrue();
            score.ShouldBe((await ScoresAsync(id, score.OrgUnitId)).Scores.Single());
        }

        // b's 3 respondents are below the minimum (and a would give them away as the root minus a): neither carries a figure.
        published.Scores.Where(s => s.Suppressed).Select(s => s.OrgUnitId).Order(StringComparer.Ordinal).ShouldBe(["s5-a", "s5-b"]);
        published.Scores.Where(s => s.Suppressed).ShouldAllBe(s => s.N == 0 && s.Mean == 0);
        published.Scores.Single(s => s.OrgUnitId == "s5-root").N.ShouldBe(15);
    }

    [Fact]
    public async Task RolesDecideWhoEditsAndWhoReads()
    {
        var id = await SetUpAsync("s4");
        await host.SubmitAsync(id, Rows("s4-a", 10, 4, 2));
        var denied = await Should.ThrowAsync<RpcException>(() => host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension",
            new DefineDimensionRequest { IdempotencyKey = "x", Fields = new DimensionFields { Name = "X", Facet = Facet.Values, Scope = InteractionScope.External } },
            host.Token(Roles.Executive)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => ScoresAsync(id, "s4-a"))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        await host.CloseAsync(id);

        (await ScoresAsync(id, "s4-a", token: host.Token(Roles.ChangeManager))).Scores.Single().N.ShouldBe(10);
        (await Should.ThrowAsync<RpcException>(() => ScoresAsync(id, "s4-root", token: host.Token(Roles.Employee)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        await host.CallAsync<PublishScoresRequest, PublishScoresResponse>("PublishScores", new PublishScoresRequest { IdempotencyKey = "p", AssessmentId = id });
        (await ScoresAsync(id, "s4-root", token: host.Token(Roles.Employee))).Scores.Single().N.ShouldBe(10);
        (await Should.ThrowAsync<RpcException>(() => ScoresAsync(id, "s4-a", token: host.Token(Roles.Employee)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);

        await host.CallAsync<SetBaselineRequest, SetBaselineResponse>("SetBaseline", new SetBaselineRequest { IdempotencyKey = "b", ScopeOrgUnitId = "s4-root", AssessmentId = id });
        var forEndState = await host.CallAsync<GetDimensionScoresRequest, GetDimensionScoresResponse>("GetDimensionScores",
            new GetDimensionScoresRequest { ScopeOrgUnitId = "s4-a", Assessment = "baseline" }, host.Token(Roles.Service));
        (forEndState.AssessmentId, forEndState.Scores.Single().Mean).ShouldBe((id, 4.0));
    }
}
