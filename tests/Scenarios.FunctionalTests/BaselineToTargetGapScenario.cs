using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Configuration;
using Transformation.Directory.V1;
using Transformation.EndState.Api;
using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using B = Transformation.Baselines.V1;
using BaselinesApi = Transformation.Baselines.Api;
using Grpc.Core;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// EndState acceptance 2: Baselines runs as a separate gRPC server on its own port; EndState reads the baseline and later
/// measurements from it over gRPC with its own service token and computes the gap to the endorsed target.
/// </summary>
public sealed class BaselineToTargetGapScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheGapFromTheBaselineToTheEndorsedTargetComesFromBaselinesOverGrpc()
    {
        using var identity = new TestIdentity();
        var baselinesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("baselines").ToLowerInvariant(), Ct);
        var endStateDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("endstate").ToLowerInvariant(), Ct);
        var (baselinesApp, baselinesClient, baselinesAddress) = await Scenario.StartAsync("baselines", baselinesDb, rabbitMq.AmqpUri, identity,
            b => BaselinesApi.Extensions.AddBaselinesService(b), a => BaselinesApi.Extensions.MapBaselinesService(a), Ct);
        await using var _ = baselinesApp;
        using var ___ = baselinesClient;
        var (endStateApp, endStateClient, _) = await Scenario.StartAsync("endstate", endStateDb, rabbitMq.AmqpUri, identity, b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                ["EndState:BaselinesAddress"] = baselinesAddress.ToString(),
                ["EndState:ServiceTokenKey"] = identity.Tokens.PrivateKeyPem,
            });
            b.AddEndStateService();
        }, a => a.MapEndStateService(), Ct);
        await using var __ = endStateApp;
        using var ____ = endStateClient;
        var hr = identity.TokenFor("hr-1", Roles.Hr);
        var ceo = identity.TokenFor("ceo", Roles.Executive);
        var now = DateTimeOffset.UtcNow;

        // The Directory's org tree reaches Baselines.
        await TestEvents.PublishAsync(rabbitMq.AmqpUri,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "org", Name = "Org", Version = 1 } },
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", ParentId = "org", Name = "Sales", Version = 1 } },
        ], Ct);
        await TestSql.WaitUntilAsync(baselinesDb, "SELECT count(*) FROM org_units", 2, Ct);

        // Baselines: two dimensions with one item each.
        foreach (var dimension in new[] { "trust", "speak-up" })
        {
            await baselinesClient.Unary<B.DefineDimensionRequest, B.DefineDimensionResponse>(B.BaselinesReflection.Descriptor, "DefineDimension", new B.DefineDimensionRequest
            {
                IdempotencyKey = "d-" + dimension, DimensionId = dimension,
                Fields = new B.DimensionFields { Name = dimension, Facet = B.Facet.Beliefs, Scope = B.InteractionScope.Internal },
            }, hr);
            await baselinesClient.Unary<B.DefineItemRequest, B.DefineItemResponse>(B.BaselinesReflection.Descriptor, "DefineItem", new B.DefineItemRequest
            {
                IdempotencyKey = "i-" + dimension, ItemId = "i-" + dimension, DimensionId = dimension, Text = "Statement",
            }, hr);
        }

        // The end state: trust 3 → 4, speak-up 4 → 4.5, openness (never measured) 4; endorsed by the one sponsor.
        var targetDate = Timestamp.FromDateTimeOffset(now.AddDays(365));
        await EndStateAsync<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "draft", ScopeOrgUnitId = "org", Draft = new EndStateDraft
            {
                Vision = "People trust each other and speak up.",
                SponsorIds = { "ceo" },
                Targets =
                {
                    new DimensionTarget { DimensionId = "trust", TargetScore = 4.0, TargetDate = targetDate },
                    new DimensionTarget { DimensionId = "speak-up", TargetScore = 4.5, TargetDate = targetDate },
                    new DimensionTarget { DimensionId = "openness", TargetScore = 4.0, TargetDate = targetDate },
                },
            },
        }, hr);
        await EndStateAsync<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState",
            new ProposeEndStateRequest { IdempotencyKey = "propose", ScopeOrgUnitId = "org", ExpectedVersion = 1 }, hr);
        await EndStateAsync<EndorseEndStateRequest, EndorseEndStateResponse>("EndorseEndState",
            new EndorseEndStateRequest { IdempotencyKey = "endorse", ScopeOrgUnitId = "org", Version = 2, Comment = "Behind it" }, ceo);

        // No baseline yet.
        var before = await GapAsync();
        before.Dimensions.ShouldAllBe(d => d.Status == GapStatus.NoBaseline);

        // The baseline assessment (closes 90 days ago): trust 3, speak-up 4 for ten respondents; closed, published, set as the baseline.
        await AssessmentAsync("q1", B.AssessmentKind.Baseline, now.AddDays(-100), now.AddDays(-90), Enumerable.Repeat((3, 4), 10));
        await baselinesClient.Unary<B.PublishScoresRequest, B.PublishScoresResponse>(B.BaselinesReflection.Descriptor, "PublishScores",
            new B.PublishScoresRequest { IdempotencyKey = "p-q1", AssessmentId = "q1" }, hr);
        await baselinesClient.Unary<B.SetBaselineRequest, B.SetBaselineResponse>(B.BaselinesReflection.Descriptor, "SetBaseline",
            new B.SetBaselineRequest { IdempotencyKey = "b-q1", ScopeOrgUnitId = "org", AssessmentId = "q1" }, hr);

        // Only the baseline: a single measurement has no trend.
        var single = (await GapAsync()).Dimensions.Single(d => d.DimensionId == "trust");
        (single.Status, single.Baseline.Score, single.Latest.AssessmentId).ShouldBe((GapStatus.TooFewMeasurements, 3.0, "q1"));

        // A pulse closing yesterday: trust 3.5 (five 3s, five 4s), speak-up 3 (moving away).
        await AssessmentAsync("q2", B.AssessmentKind.Pulse, now.AddDays(-10), now.AddDays(-1),
            Enumerable.Repeat((3, 3), 5).Concat(Enumerable.Repeat((4, 3), 5)));
        var gap = await GapAsync();
        (gap.Version, gap.Status).ShouldBe((3L, EndStateStatus.Endorsed));

        var trust = gap.Dimensions.Single(d => d.DimensionId == "trust");
        (trust.Baseline.AssessmentId, trust.Baseline.Score, trust.Latest.AssessmentId, trust.Latest.Score).ShouldBe(("q1", 3.0, "q2", 3.5));
        trust.Points.Select(p => p.AssessmentId).ShouldBe(["q1", "q2"]);
        trust.GapClosedShare.ShouldBe(0.5, 1e-9);
        // 0.5 in 89 days: the remaining 0.5 takes another 89 days, well before the target date.
        trust.HasProjection.ShouldBeTrue();
        (trust.ProjectedDate.ToDateTimeOffset() - now).TotalDays.ShouldBe(88, 0.01);
        trust.Status.ShouldBe(GapStatus.OnTrack);

        var speakUp = gap.Dimensions.Single(d => d.DimensionId == "speak-up");
        (speakUp.Status, speakUp.HasProjection, speakUp.GapClosedShare).ShouldBe((GapStatus.AtRisk, false, 0.0));
        speakUp.GapClosedShareUnclamped.ShouldBe(-2.0, 1e-9);
        speakUp.Explanation.ShouldContain("moving away");

        gap.Dimensions.Single(d => d.DimensionId == "openness").Status.ShouldBe(GapStatus.NoBaseline);

        // The gap is read with EndState's own identity: Baselines refuses an employee the same figures.
        (await Should.ThrowAsync<RpcException>(() => baselinesClient.Unary<B.GetDimensionScoresRequest, B.GetDimensionScoresResponse>(B.BaselinesReflection.Descriptor,
            "GetDimensionScores", new B.GetDimensionScoresRequest { ScopeOrgUnitId = "org", Assessment = "baseline" }, identity.TokenFor("e1", Roles.Employee))))
            .StatusCode.ShouldBe(StatusCode.PermissionDenied);

        Task<GetGapResponse> GapAsync() =>
            EndStateAsync<GetGapRequest, GetGapResponse>("GetGap", new GetGapRequest { ScopeOrgUnitId = "org" }, hr);

        Task<TResponse> EndStateAsync<TRequest, TResponse>(string method, TRequest request, string token)
            where TRequest : class, IMessage<TRequest>
            where TResponse : class, IMessage<TResponse> =>
            endStateClient.Unary<TRequest, TResponse>(EndstateReflection.Descriptor, method, request, token);

        async Task AssessmentAsync(string id, B.AssessmentKind kind, DateTimeOffset opens, DateTimeOffset closes, IEnumerable<(int Trust, int SpeakUp)> answers)
        {
            await baselinesClient.Unary<B.CreateAssessmentRequest, B.CreateAssessmentResponse>(B.BaselinesReflection.Descriptor, "CreateAssessment",
                new B.CreateAssessmentRequest
                {
                    IdempotencyKey = "a-" + id, AssessmentId = id, Title = id, Kind = kind, OpensAt = Timestamp.FromDateTimeOffset(opens),
                    ClosesAt = Timestamp.FromDateTimeOffset(closes), PopulationOrgUnitIds = { "org" }, ItemIds = { "i-trust", "i-speak-up" },
                }, hr);
            using (var call = baselinesClient.ClientStreaming<B.SubmitResponsesRequest, B.SubmitResponsesResponse>(
                B.BaselinesReflection.Descriptor.Services[0].FindMethodByName("SubmitResponses"),
                GrpcTestClient.As(hr)))
            {
                await call.RequestStream.WriteAsync(new B.SubmitResponsesRequest { Header = new B.SubmitResponsesHeader { AssessmentId = id } });
                await call.RequestStream.WriteAsync(new B.SubmitResponsesRequest
                {
                    Rows =
                    {
                        answers.Select((a, i) => new B.ResponseRow
                        {
                            Line = i + 2, RespondentToken = $"{id}-{i}", OrgUnitId = "sales", TenureBand = "0-2", RoleLevel = "ic", Location = "berlin",
                            Answers = { a.Trust, a.SpeakUp },
                        }),
                    },
                });
                await call.RequestStream.CompleteAsync();
                (await call.ResponseAsync).Accepted.ShouldBe(10);
            }

            await baselinesClient.Unary<B.CloseAssessmentRequest, B.CloseAssessmentResponse>(B.BaselinesReflection.Descriptor, "CloseAssessment",
                new B.CloseAssessmentRequest { IdempotencyKey = "c-" + id, AssessmentId = id }, hr);
        }
    }
}
