using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>Issue 24: surveys answered in the product, from opening to the scores at close.</summary>
public sealed class SurveysTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private static readonly int[] InA = [4, 2, 5];
    private static readonly int[] InB = [2, 4, 1];

    /// <summary>Units root, root/a, root/b; dimension trust (items i1, i2 reversed) and openness (i3); employees per unit.</summary>
    internal static async Task<string[]> OrganisationAsync(BaselinesHost host, string prefix, int inA, int inB)
    {
        await host.UnitsAsync(($"{prefix}-root", ""), ($"{prefix}-a", $"{prefix}-root"), ($"{prefix}-b", $"{prefix}-root"));
        foreach (var (dimension, name) in new[] { ("trust", "Trust"), ("openness", "Openness") })
        {
            await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
            {
                IdempotencyKey = $"{prefix}{dimension}", DimensionId = $"{prefix}-{dimension}",
                Fields = new DimensionFields { Name = name, Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
            });
        }

        foreach (var (item, dimension, reverse) in new[] { ("i1", "trust", false), ("i2", "trust", true), ("i3", "openness", false) })
        {
            await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
            {
                IdempotencyKey = $"{prefix}{item}", ItemId = $"{prefix}-{item}", DimensionId = $"{prefix}-{dimension}", Text = $"Statement {item}", ReverseScored = reverse,
            });
        }

        var employees = Enumerable.Range(0, inA).Select(i => ($"{prefix}-a{i:00}", $"{prefix}-a"))
            .Concat(Enumerable.Range(0, inB).Select(i => ($"{prefix}-b{i:00}", $"{prefix}-b"))).ToArray();
        await host.EmployeesAsync(employees);
        return [.. employees.Select(e => e.Item1)];
    }

    internal static Task<OpenSurveyResponse> OpenAsync(BaselinesHost host, string prefix, bool excludeSubUnits = false, string? unit = null) =>
        host.CallAsync<OpenSurveyRequest, OpenSurveyResponse>("OpenSurvey", new OpenSurveyRequest
        {
            IdempotencyKey = $"open-{prefix}-{excludeSubUnits}-{unit}", AssessmentId = $"{prefix}-pulse{(unit is null ? "" : "-" + unit)}", Title = "Pulse",
            Kind = AssessmentKind.Pulse, ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { unit ?? $"{prefix}-root" }, ExcludeSubUnits = excludeSubUnits, ItemIds = { $"{prefix}-i1", $"{prefix}-i2", $"{prefix}-i3" },
        });

    internal static SurveyAnswers Answers(string prefix, int i1, int i2, int i3, string? trustComment = null)
    {
        var answers = new SurveyAnswers
        {
            Answers = { new ItemAnswer { ItemId = $"{prefix}-i1", Answer = i1 }, new ItemAnswer { ItemId = $"{prefix}-i2", Answer = i2 }, new ItemAnswer { ItemId = $"{prefix}-i3", Answer = i3 } },
        };
        if (trustComment is not null)
        {
            answers.Comments.Add(new DimensionComment { DimensionId = $"{prefix}-trust", Text = trustComment });
        }

        return answers;
    }

    internal static Task<SubmitSurveyResponse> SubmitAsync(BaselinesHost host, string assessmentId, string employee, SurveyAnswers answers) =>
        host.CallAsync<SubmitSurveyRequest, SubmitSurveyResponse>("SubmitSurvey", new SubmitSurveyRequest { AssessmentId = assessmentId, Answers = answers },
            host.EmployeeToken(employee));

    private Task<GetMySurveyResponse> MySurveyAsync(string assessmentId, string employee) =>
        host.CallAsync<GetMySurveyRequest, GetMySurveyResponse>("GetMySurvey", new GetMySurveyRequest { AssessmentId = assessmentId }, host.EmployeeToken(employee));

    private Task<GetScoresResponse> ScoresAsync(string id, string unit) =>
        host.CallAsync<GetScoresRequest, GetScoresResponse>("GetScores", new GetScoresRequest { AssessmentId = id, OrgUnitId = unit, IncludeDescendants = true });

    [Fact]
    public async Task ASurveyAnsweredInTheProductScoresAsTheSameResponsesImportedByCsv()
    {
        var employees = await OrganisationAsync(host, "sv1", inA: 6, inB: 2);
        var opened = await OpenAsync(host, "sv1");
        opened.Invited.ShouldBe(8);
        opened.Assessment.Survey.ShouldBeTrue();
        var id = opened.Assessment.AssessmentId;

        // The form: items grouped by dimension in the survey's order, the agreement scale, no draft yet.
        var form = await MySurveyAsync(id, "sv1-a00");
        form.Dimensions.Select(d => (d.Name, d.Items.Count)).ShouldBe([("Trust", 2), ("Openness", 1)]);
        form.Scale.ShouldBe(["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]);
        (form.Survey.Answered, form.Survey.HasDraft, form.Draft.Answers.Count).ShouldBe((false, false, 0));

        // One saves a draft, comes back to it and submits it.
        var draft = Answers("sv1", 4, 0, 0, "Fair enough");
        await host.CallAsync<SaveSurveyDraftRequest, SaveSurveyDraftResponse>("SaveSurveyDraft", new SaveSurveyDraftRequest { AssessmentId = id, Answers = draft },
            host.EmployeeToken("sv1-a00"));
        var back = await MySurveyAsync(id, "sv1-a00");
        (back.Survey.HasDraft, back.Draft).ShouldBe((true, draft));
        (await host.CallAsync<ListMySurveysRequest, ListMySurveysResponse>("ListMySurveys", new ListMySurveysRequest(), host.EmployeeToken("sv1-a00")))
            .Surveys.Single(s => s.AssessmentId == id).HasDraft.ShouldBeTrue();
        back.Draft.Answers[1].Answer = 2;
        back.Draft.Answers[2].Answer = 5;
        await SubmitAsync(host, id, "sv1-a00", back.Draft);
        var after = await MySurveyAsync(id, "sv1-a00");
        (after.Survey.Answered, after.Survey.HasDraft).ShouldBe((true, false));
        (await host.ScalarAsync($"SELECT count(*) FROM survey_drafts WHERE assessment_id = '{id}'")).ShouldBe(0); // the class's other tests keep theirs

        // Five more in a (i1 4, i2 2 reversed: trust 4; openness 5), both in b (trust 2, openness 1).
        foreach (var employee in employees.Where(e => e.StartsWith("sv1-a", StringComparison.Ordinal)).Skip(1))
        {
            await SubmitAsync(host, id, employee, Answers("sv1", 4, 2, 5));
        }

        foreach (var employee in employees.Where(e => e.StartsWith("sv1-b", StringComparison.Ordinal)))
        {
            await SubmitAsync(host, id, employee, Answers("sv1", 2, 4, 1));
        }

        // While open: a rate for the units with at least the minimum group of invitees only.
        var rates = await host.CallAsync<GetResponseRatesRequest, GetResponseRatesResponse>("GetResponseRates", new GetResponseRatesRequest { AssessmentId = id });
        rates.Units.Select(u => (u.OrgUnitId, u.BelowMinimum, u.Invited, u.Answered)).ShouldBe(
            [("sv1-a", false, 6L, 6L), ("sv1-b", true, 0L, 0L), ("sv1-root", false, 8L, 8L)]);
        var extended = await host.CallAsync<ExtendSurveyRequest, ExtendSurveyResponse>("ExtendSurvey", new ExtendSurveyRequest
        {
            IdempotencyKey = "ext-sv1", AssessmentId = id, ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(14)),
        });
        extended.Assessment.ClosesAt.ToDateTime().ShouldBeGreaterThan(DateTime.UtcNow.AddDays(13));

        // Closed early: the answers become responses, scored as the CSV import scores the same answers (b's two are kept
        // under root, b being below the minimum group).
        (await host.CloseAsync(id)).Assessment.Respondents.ShouldBe(8);
        var imported = await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = "sv1-csv", AssessmentId = "sv1-csv", Title = "Pulse by CSV", Kind = AssessmentKind.Pulse,
            OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { "sv1-root" }, ItemIds = { "sv1-i1", "sv1-i2", "sv1-i3" },
        });
        await host.SubmitAsync(imported.Assessment.AssessmentId, Enumerable.Range(0, 8).Select(i => new ResponseRow
        {
            Line = i + 2, RespondentToken = $"t{i}", OrgUnitId = i < 6 ? "sv1-a" : "sv1-root", Answers = { i < 6 ? InA : InB },
            Comment = i == 0 ? "Trust: Fair enough" : "",
        }));
        await host.CloseAsync("sv1-csv");
        foreach (var unit in new[] { "sv1-root", "sv1-a" })
        {
            var survey = await ScoresAsync(id, unit);
            var csv = await ScoresAsync("sv1-csv", unit);
            survey.Scores.Select(s => (s.DimensionId, s.Suppressed, s.N, s.Mean, string.Join(',', s.Distribution))).ShouldBe(
                csv.Scores.Select(s => (s.DimensionId, s.Suppressed, s.N, s.Mean, string.Join(',', s.Distribution))));
        }

        // Root: six trust 4, two trust 2; a alone is suppressed (root minus a would be b's two).
        (await ScoresAsync(id, "sv1-root")).Scores.First(s => s.DimensionId == "sv1-trust").Mean.ShouldBe(3.5);
        (await ScoresAsync(id, "sv1-a")).Scores.First(s => s.DimensionId == "sv1-trust").Suppressed.ShouldBeTrue();
        (await host.ScalarAsync($"SELECT count(*) FROM comments WHERE assessment_id = '{id}' AND text = 'Trust: Fair enough'")).ShouldBe(1);
        (await host.ScalarAsync($"SELECT count(*) FROM survey_answers WHERE assessment_id = '{id}'")).ShouldBe(0);
    }

    [Fact]
    public async Task APopulationWithoutSubUnitsInvitesTheUnitsOwnMembersOnly()
    {
        await OrganisationAsync(host, "sv2", inA: 5, inB: 3);
        await host.UnitsAsync(("sv2-a-team", "sv2-a"));
        await host.EmployeesAsync(("sv2-t00", "sv2-a-team"));

        (await OpenAsync(host, "sv2", excludeSubUnits: true, unit: "sv2-a")).Invited.ShouldBe(5);
        (await host.CallAsync<OpenSurveyRequest, OpenSurveyResponse>("OpenSurvey", new OpenSurveyRequest
        {
            IdempotencyKey = "sv2-with", AssessmentId = "sv2-with", Title = "With sub-units", Kind = AssessmentKind.Baseline,
            ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)), PopulationOrgUnitIds = { "sv2-a" }, ItemIds = { "sv2-i1" },
        })).Invited.ShouldBe(6);
        await Should.ThrowAsync<RpcException>(() => MySurveyAsync("sv2-pulse-sv2-a", "sv2-t00"));
    }

    [Fact]
    public async Task OpeningASurveyPublishesItsInviteesInBatchesOfAThousand()
    {
        await OrganisationAsync(host, "sv9", inA: 0, inB: 0);
        var employees = Enumerable.Range(0, 1001).Select(i => ($"sv9-e{i:0000}", "sv9-a")).ToArray();
        await host.EmployeesAsync(employees);

        (await OpenAsync(host, "sv9", unit: "sv9-a")).Invited.ShouldBe(1001);

        // Issue 25: the inboxes hear who is invited (never who answered), in the opening's transaction.
        var batches = new List<long>();
        await using (var connection = new Npgsql.NpgsqlConnection(host.ConnectionString))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = new Npgsql.NpgsqlCommand("""
                SELECT jsonb_array_length(convert_from(envelope, 'UTF8')::jsonb -> 'data' -> 'employeeIds') FROM eventbus_outbox
                WHERE topic = 'survey-invitation' AND aggregate_id = 'sv9-pulse-sv9-a' ORDER BY 1 DESC
                """, connection);
            await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                batches.Add(reader.GetInt32(0));
            }
        }

        batches.ShouldBe([1000, 1]);
        (await host.ScalarAsync("""
            SELECT count(DISTINCT id) FROM eventbus_outbox, jsonb_array_elements_text(convert_from(envelope, 'UTF8')::jsonb -> 'data' -> 'employeeIds') AS id
            WHERE topic = 'survey-invitation' AND aggregate_id = 'sv9-pulse-sv9-a' AND id LIKE 'sv9-e%'
            """)).ShouldBe(1001);
        (await host.LastEventDataAsync("survey-invitation", "sv9-pulse-sv9-a")).ShouldContain("\"title\": \"Pulse\"");
    }

    [Fact]
    public async Task ASurveyClosedEarlyIsDatedTheDayItClosedNotItsPlannedEnd()
    {
        await OrganisationAsync(host, "sv6", inA: 2, inB: 0);
        var id = (await OpenAsync(host, "sv6")).Assessment.AssessmentId; // planned to close in 7 days
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var closed = (await host.CloseAsync(id)).Assessment;
        var after = DateTimeOffset.UtcNow.AddSeconds(1);

        closed.ClosesAt.ToDateTimeOffset().ShouldBeInRange(before, after);
        var stored = (await host.CallAsync<GetAssessmentRequest, GetAssessmentResponse>("GetAssessment", new GetAssessmentRequest { AssessmentId = id })).Assessment;
        stored.ClosesAt.ShouldBe(closed.ClosesAt);
    }

    [Fact]
    public async Task BadAnswersAreRefusedNamingTheFieldAndNothingIsStored()
    {
        await OrganisationAsync(host, "sv3", inA: 5, inB: 0);
        await host.UnitsAsync(("sv3-elsewhere", ""));
        await host.EmployeesAsync(("sv3-outsider", "sv3-elsewhere"));
        var id = (await OpenAsync(host, "sv3")).Assessment.AssessmentId;
        async Task<long> StoredAsync() => await host.ScalarAsync(
            $"SELECT (SELECT count(*) FROM survey_answers WHERE assessment_id IN ('{id}', 'sv3-nothing'))"
            + $" + (SELECT count(*) FROM survey_drafts WHERE assessment_id IN ('{id}', 'sv3-nothing'))"
            + $" + (SELECT count(*) FROM invitations WHERE answered AND assessment_id = '{id}')");
        var stored = await StoredAsync();

        async Task<RpcException> RefusedAsync(string assessmentId, string employee, SurveyAnswers answers, StatusCode code)
        {
            var error = await Should.ThrowAsync<RpcException>(() => SubmitAsync(host, assessmentId, employee, answers));
            error.StatusCode.ShouldBe(code, error.Status.Detail);
            (await StoredAsync()).ShouldBe(stored);
            return error;
        }

        var outOfRange = await RefusedAsync(id, "sv3-a00", Answers("sv3", 4, 6, 3), StatusCode.InvalidArgument);
        outOfRange.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("answers.answers[1].answer");

        var unknownItem = Answers("sv3", 4, 2, 3);
        unknownItem.Answers.Add(new ItemAnswer { ItemId = "sv1-i1", Answer = 3 });
        (await RefusedAsync(id, "sv3-a00", unknownItem, StatusCode.InvalidArgument)).GetDetail<BadRequest>()!.FieldViolations.Single().Field
            .ShouldBe("answers.answers[3].item_id");
        var unknownDimension = Answers("sv3", 4, 2, 3);
        unknownDimension.Comments.Add(new DimensionComment { DimensionId = "nowhere", Text = "?" });
        (await RefusedAsync(id, "sv3-a00", unknownDimension, StatusCode.InvalidArgument)).GetDetail<BadRequest>()!.FieldViolations.Single().Field
            .ShouldBe("answers.comments[0].dimension_id");
        (await RefusedAsync(id, "sv3-a00", Answers("sv3", 0, 0, 0), StatusCode.InvalidArgument)).GetDetail<BadRequest>()!.FieldViolations.Single().Field
            .ShouldBe("answers.answers");

        // A draft is checked as a submission is.
        var badDraft = await Should.ThrowAsync<RpcException>(() => host.CallAsync<SaveSurveyDraftRequest, SaveSurveyDraftResponse>("SaveSurveyDraft",
            new SaveSurveyDraftRequest { AssessmentId = id, Answers = Answers("sv3", 9, 0, 0) }, host.EmployeeToken("sv3-a01")));
        badDraft.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("answers.answers[0].answer");
        (await StoredAsync()).ShouldBe(stored);

        (await RefusedAsync("sv3-nothing", "sv3-a00", Answers("sv3", 4, 2, 3), StatusCode.NotFound)).Status.Detail.ShouldContain("sv3-nothing");
        (await RefusedAsync(id, "sv3-outsider", Answers("sv3", 4, 2, 3), StatusCode.NotFound)).Status.Detail.ShouldContain("outside its population");

        await SubmitAsync(host, id, "sv3-a00", Answers("sv3", 4, 2, 3));
        stored = await StoredAsync();
        (await RefusedAsync(id, "sv3-a00", Answers("sv3", 1, 1, 1), StatusCode.AlreadyExists)).Status.Detail.ShouldContain("once");

        await host.CloseAsync(id);
        stored = await StoredAsync();
        var closed = await RefusedAsync(id, "sv3-a01", Answers("sv3", 4, 2, 3), StatusCode.FailedPrecondition);
        closed.GetDetail<PreconditionFailure>()!.Violations.Single().Subject.ShouldBe("assessment_id");
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<ExtendSurveyRequest, ExtendSurveyResponse>("ExtendSurvey", new ExtendSurveyRequest
        {
            IdempotencyKey = "ext-sv3", AssessmentId = id, ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(30)),
        }))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);

        // The CSV import does not write into a survey answered in the product.
        var id2 = (await OpenAsync(host, "sv3", unit: "sv3-a")).Assessment.AssessmentId;
        (await Should.ThrowAsync<RpcException>(() => host.SubmitAsync(id2, [new ResponseRow { Line = 2, RespondentToken = "x", OrgUnitId = "sv3-a", Answers = { 1, 1, 1 } }])))
            .StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task AnEmployeeReadsAndAnswersOnlyTheirOwnInvitationAndOnlyHrOpensAndFollowsASurvey()
    {
        await OrganisationAsync(host, "sv4", inA: 5, inB: 0);
        var id = (await OpenAsync(host, "sv4")).Assessment.AssessmentId;
        await host.CallAsync<SaveSurveyDraftRequest, SaveSurveyDraftResponse>("SaveSurveyDraft",
            new SaveSurveyDraftRequest { AssessmentId = id, Answers = Answers("sv4", 5, 1, 5, "Mine") }, host.EmployeeToken("sv4-a00"));

        // Another invitee sees their own (empty) draft; a manager or hr without an invitation is not invited.
        (await MySurveyAsync(id, "sv4-a01")).Draft.ShouldBe(new SurveyAnswers());
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetMySurveyRequest, GetMySurveyResponse>("GetMySurvey",
            new GetMySurveyRequest { AssessmentId = id }, host.Token(Roles.Hr)))).StatusCode.ShouldBe(StatusCode.NotFound);

        foreach (var method in new[] { "OpenSurvey", "ExtendSurvey", "GetResponseRates" })
        {
            var refused = await Should.ThrowAsync<RpcException>(() => method switch
            {
                "OpenSurvey" => host.CallAsync<OpenSurveyRequest, OpenSurveyResponse>(method, new OpenSurveyRequest(), host.EmployeeToken("sv4-a00")),
                "ExtendSurvey" => host.CallAsync<ExtendSurveyRequest, ExtendSurveyResponse>(method, new ExtendSurveyRequest { AssessmentId = id }, host.EmployeeToken("sv4-a00")),
                _ => host.CallAsync<GetResponseRatesRequest, GetResponseRatesResponse>(method, new GetResponseRatesRequest { AssessmentId = id }, host.EmployeeToken("sv4-a00")),
            });
            refused.StatusCode.ShouldBe(StatusCode.PermissionDenied, method);
        }
    }
}
