using Google.Protobuf.WellKnownTypes;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>ListAssessments over the real service: every assessment, the latest to open first, with a status filter; hr and executives list all, anyone else the published ones.</summary>
public sealed class ListAssessmentsTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    [Fact]
    public async Task HrAndExecutivesListEveryAssessmentLatestFirstAndFilterByStatusEmployeesThePublishedOnes()
    {
        var hr = host.Identity.TokenFor("hr-list", Roles.Hr);
        await host.UnitsAsync(("l-root", ""));
        await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = "l-d", DimensionId = "l-dim", Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        }, hr);
        foreach (var item in new[] { "l-q1", "l-q2" })
        {
            await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem",
                new DefineItemRequest { IdempotencyKey = item, ItemId = item, DimensionId = "l-dim", Text = "I trust my team." }, hr);
        }

        var now = DateTime.UtcNow;
        foreach (var (id, opens) in new[] { ("spring", now.AddDays(-100)), ("autumn", now.AddDays(-10)), ("summer", now.AddDays(-50)) })
        {
            await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
            {
                IdempotencyKey = "l-" + id, AssessmentId = id, Title = "Survey " + id, Kind = AssessmentKind.Pulse,
                OpensAt = Timestamp.FromDateTime(opens), ClosesAt = Timestamp.FromDateTime(opens.AddDays(200)),
                PopulationOrgUnitIds = { "l-root" }, ItemIds = { "l-q2", "l-q1" },
            }, hr);
        }

        await host.CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment",
            new CloseAssessmentRequest { IdempotencyKey = "l-close", AssessmentId = "summer" }, hr);

        var all = (await host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments", new ListAssessmentsRequest(),
            host.Identity.TokenFor("exec-list", Roles.Executive))).Assessments;
        all.Select(a => a.AssessmentId).ShouldBe(["autumn", "summer", "spring"]);
        all[0].Title.ShouldBe("Survey autumn");
        all[0].ItemIds.ShouldBe(["l-q2", "l-q1"]);
        all[0].PopulationOrgUnitIds.ShouldBe(["l-root"]);
        all[1].Status.ShouldBe(AssessmentStatus.Closed);

        var open = (await host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments",
            new ListAssessmentsRequest { Status = AssessmentStatus.Open }, hr)).Assessments;
        open.Select(a => a.AssessmentId).ShouldBe(["autumn", "spring"]);

        var page = (await host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments", new ListAssessmentsRequest { PageSize = 1 }, hr)).Assessments;
        page.Select(a => a.AssessmentId).ShouldBe(["autumn"]);

        var employee = host.Identity.TokenFor("e-list", Roles.Employee);
        (await host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments", new ListAssessmentsRequest(), employee)).Assessments
            .ShouldBeEmpty();
        await host.CallAsync<PublishScoresRequest, PublishScoresResponse>("PublishScores",
            new PublishScoresRequest { IdempotencyKey = "l-publish", AssessmentId = "summer" }, hr);
        (await host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments", new ListAssessmentsRequest(), employee)).Assessments
            .Select(a => a.AssessmentId).ShouldBe(["summer"]);
        var invalid = await Should.ThrowAsync<RpcException>(() => host.CallAsync<ListAssessmentsRequest, ListAssessmentsResponse>("ListAssessments",
            new ListAssessmentsRequest { PageSize = 501 }, hr));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
    }
}
