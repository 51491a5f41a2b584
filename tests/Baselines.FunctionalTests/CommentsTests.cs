using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>Free-text comments: stored apart from the responses, returned only for groups the scores would report.</summary>
public sealed class CommentsTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private async Task<string> SetUpAsync(string prefix, params string[] children)
    {
        var root = $"{prefix}-root";
        await host.UnitsAsync([(root, ""), .. children.Select(c => ($"{prefix}-{c}", root))]);
        await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = $"d{prefix}", DimensionId = $"{prefix}-trust",
            Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        });
        await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
        {
            IdempotencyKey = $"i{prefix}", ItemId = $"{prefix}-i1", DimensionId = $"{prefix}-trust", Text = "Statement",
        });
        var assessment = await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = $"a{prefix}", AssessmentId = $"{prefix}-q1", Title = "Q1", Kind = AssessmentKind.Baseline,
            OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { root }, ItemIds = { $"{prefix}-i1" },
        });
        return assessment.Assessment.AssessmentId;
    }

    /// <summary>Respondents each leaving the comment "{unit} {tenure} says {i}".</summary>
    private static List<ResponseRow> Rows(string unit, int count, string tenure = "0-2") =>
        [.. Enumerable.Range(0, count).Select(i => new ResponseRow
        {
            Line = i + 2, RespondentToken = $"{unit}-{tenure}-{i}", OrgUnitId = unit, TenureBand = tenure, RoleLevel = "ic", Location = "berlin",
            Answers = { 4 }, Comment = $"{unit} {tenure} says {i}",
        })];

    private Task<ListCommentsResponse> CommentsAsync(string id, string unit, bool descendants = true, string tenure = "", string? token = null) =>
        host.CallAsync<ListCommentsRequest, ListCommentsResponse>("ListComments", new ListCommentsRequest
        {
            AssessmentId = id, OrgUnitId = unit, IncludeDescendants = descendants, Filter = new AttributeFilter { TenureBand = tenure },
        }, token);

    [Fact]
    public async Task CommentsOfAGroupOfFiveOrMoreAreReturnedByTextAndOfFourAreSuppressed()
    {
        var id = await SetUpAsync("k1", "a", "b", "c");
        // Shuffled: the order returned must not be the order submitted.
        var rows = Rows("k1-a", 8).Concat(Rows("k1-b", 4)).Concat(Rows("k1-c", 5)).Reverse().ToList();
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i].Line = i + 2;
        }

        (await host.SubmitAsync(id, rows)).Accepted.ShouldBe(17);
        (await Should.ThrowAsync<RpcException>(() => CommentsAsync(id, "k1-a"))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        await host.CloseAsync(id);

        var a = await CommentsAsync(id, "k1-a", token: host.Token(Roles.Executive));
        a.Suppressed.ShouldBeFalse();
        a.MinimumGroupSize.ShouldBe(5);
        a.Comments.Select(c => c.Text).ShouldBe(Enumerable.Range(0, 8).Select(i => $"k1-a 0-2 says {i}").Order(StringComparer.Ordinal).ToList());
        a.Comments.ShouldAllBe(c => c.OrgUnitId == "k1-a" && c.TenureBand == "0-2" && c.RoleLevel == "ic" && c.Location == "berlin");

        var b = await CommentsAsync(id, "k1-b");
        (b.Suppressed, b.Comments.Count).ShouldBe((true, 0));
        b.SuppressionReason.ShouldNotBeEmpty();
        (await CommentsAsync(id, "k1-b", descendants: false)).Suppressed.ShouldBeTrue();

        // The whole organisation (17) is reportable: b's comments are in it, but never with b's unit, and not told apart from c's
        // (c is suppressed with b, so that root minus a is 9 people, not b's 4).
        var root = await CommentsAsync(id, "k1-root");
        root.Suppressed.ShouldBeFalse();
        root.Comments.Count.ShouldBe(17);
        root.Comments.Where(c => c.Text.StartsWith("k1-b", StringComparison.Ordinal) || c.Text.StartsWith("k1-c", StringComparison.Ordinal))
            .ShouldAllBe(c => c.OrgUnitId.Length == 0);
        root.Comments.Where(c => c.Text.StartsWith("k1-a", StringComparison.Ordinal)).ShouldAllBe(c => c.OrgUnitId == "k1-a");
        (await CommentsAsync(id, "k1-c")).Suppressed.ShouldBeTrue();
    }

    [Fact]
    public async Task ATenureAttributeIsBlankedWhenTheUnitTimesTenureGroupIsBelowTheMinimum()
    {
        var id = await SetUpAsync("k2", "a");
        await host.SubmitAsync(id, [.. Rows("k2-a", 6), .. Rows("k2-a", 5, tenure: "3-9").Select(r => { r.Line += 100; return r; }),
            .. Rows("k2-a", 2, tenure: "10+").Select(r => { r.Line += 200; return r; })]);
        await host.CloseAsync(id);

        var comments = await CommentsAsync(id, "k2-a");
        comments.Suppressed.ShouldBeFalse();
        comments.Comments.Count.ShouldBe(13);
        var longTenured = comments.Comments.Where(c => c.Text.StartsWith("k2-a 10+", StringComparison.Ordinal)).ToList();
        longTenured.Count.ShouldBe(2);
        longTenured.ShouldAllBe(c => c.TenureBand.Length == 0 && c.OrgUnitId == "k2-a");
        // 3-9 (5) is withheld with 10+ (2): blanking only the 2 would tell them apart from everyone else.
        comments.Comments.Where(c => c.Text.StartsWith("k2-a 3-9", StringComparison.Ordinal)).ShouldAllBe(c => c.TenureBand.Length == 0);
        comments.Comments.Where(c => c.Text.StartsWith("k2-a 0-2", StringComparison.Ordinal)).ShouldAllBe(c => c.TenureBand == "0-2");
        (await CommentsAsync(id, "k2-a", tenure: "10+")).Suppressed.ShouldBeTrue();
        (await CommentsAsync(id, "k2-a", tenure: "0-2")).Comments.Count.ShouldBe(6);
    }

    [Fact]
    public async Task AUnitWithDescendantsMinusTheUnitAloneDoesNotRevealASmallSubUnitsComments()
    {
        var id = await SetUpAsync("k3", "a");
        await host.SubmitAsync(id, [.. Rows("k3-root", 6), .. Rows("k3-a", 3).Select(r => { r.Line += 100; return r; })]);
        await host.CloseAsync(id);

        var withDescendants = await CommentsAsync(id, "k3-root");
        var alone = await CommentsAsync(id, "k3-root", descendants: false);
        var small = await CommentsAsync(id, "k3-a");

        small.Suppressed.ShouldBeTrue();
        (withDescendants.Suppressed || alone.Suppressed).ShouldBeTrue();
        var derived = withDescendants.Comments.Select(c => c.Text).Except(alone.Comments.Select(c => c.Text), StringComparer.Ordinal).ToList();
        derived.Order(StringComparer.Ordinal).SequenceEqual(Enumerable.Range(0, 3).Select(i => $"k3-a 0-2 says {i}"), StringComparer.Ordinal).ShouldBeFalse();
        withDescendants.Comments.ShouldAllBe(c => c.OrgUnitId.Length == 0);
    }

    [Fact]
    public async Task ARejectedBatchStoresNoCommentAndCommentsKeepNoTokenNorAResubmissionTwice()
    {
        var id = await SetUpAsync("k4", "a");
        var rows = Rows("k4-a", 6);
        rows[4].Answers[0] = 9;
        (await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows))).StatusCode.ShouldBe(StatusCode.InvalidArgument);
        rows = Rows("k4-a", 6);
        rows[5].RespondentToken = rows[1].RespondentToken;
        (await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows))).StatusCode.ShouldBe(StatusCode.InvalidArgument);
        rows = Rows("k4-a", 6);
        rows[2].Comment = new string('x', 4001);
        var tooLong = await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id, rows));
        tooLong.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("rows[line 4].comment");
        (await host.ScalarAsync("SELECT count(*) FROM comments WHERE assessment_id = 'k4-q1'")).ShouldBe(0);

        await host.SubmitAsync(id, Rows("k4-a", 6));
        (await host.SubmitAsync(id, Rows("k4-a", 6))).AlreadySubmitted.ShouldBe(6);
        (await host.ScalarAsync("SELECT count(*) FROM comments WHERE assessment_id = 'k4-q1'")).ShouldBe(6);
        (await host.ScalarAsync("SELECT count(*) FROM information_schema.columns WHERE table_name = 'comments' AND column_name NOT IN " +
            "('assessment_id', 'org_unit_id', 'tenure_band', 'role_level', 'location', 'text')")).ShouldBe(0);
    }

    [Fact]
    public async Task AnEmployeeMayNotReadComments()
    {
        var id = await SetUpAsync("k5", "a");
        await host.SubmitAsync(id, Rows("k5-a", 6));
        await host.CloseAsync(id);

        (await Should.ThrowAsync<RpcException>(() => CommentsAsync(id, "k5-root", token: host.Token(Roles.Employee)))).StatusCode
            .ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => CommentsAsync(id, "k5-root", token: host.Token(Roles.ChangeManager)))).StatusCode
            .ShouldBe(StatusCode.PermissionDenied);
        (await CommentsAsync(id, "k5-root")).Comments.Count.ShouldBe(6);
    }
}
