using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using B = Transformation.Baselines.V1;
using Grpc.Core;

namespace Transformation.EndState.FunctionalTests;

/// <summary>
/// The gap read from the real Baselines service over gRPC: no baseline yet, the target already met (and passed), and a
/// culture moving away from its target; a draft's gap by version; who may read it.
/// </summary>
public sealed class GapTests(EndStateHost host) : IClassFixture<EndStateHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Hr => host.Identity.TokenFor("hr-gap", Roles.Hr);

    [Fact]
    public async Task NoBaselineTargetMetAndMovingAwayAreEachReportedWithTheirArithmetic()
    {
        var now = DateTimeOffset.UtcNow;
        await TestEvents.PublishAsync(host.AmqpUri,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "g-org", Name = "Org", Version = 1 } },
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "g-ops", ParentId = "g-org", Name = "Operations", Version = 1 } },
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "g-lab", Name = "Lab (no survey yet)", Version = 1 } },
        ], Ct);
        await TestSql.WaitUntilAsync(host.BaselinesDatabase, "SELECT count(*) FROM org_units WHERE org_unit_id LIKE 'g-%'", 3, Ct);
        foreach (var dimension in new[] { "g-collab", "g-candour" })
        {
            await BaselinesAsync<B.DefineDimensionRequest, B.DefineDimensionResponse>("DefineDimension", new B.DefineDimensionRequest
            {
                IdempotencyKey = "d-" + dimension, DimensionId = dimension,
                Fields = new B.DimensionFields { Name = dimension, Facet = B.Facet.Values, Scope = B.InteractionScope.Internal },
            });
            await BaselinesAsync<B.DefineItemRequest, B.DefineItemResponse>("DefineItem", new B.DefineItemRequest
            {
                IdempotencyKey = "i-" + dimension, ItemId = "i-" + dimension, DimensionId = dimension, Text = "Statement",
            });
        }

        // Targets: collaboration 3 → 4 (will reach 4.5: met and passed); candour 4 → 4.5 (will fall to 3: moving away);
        // "g-unmeasured" is never surveyed.
        var targetDate = Timestamp.FromDateTimeOffset(now.AddDays(365));
        foreach (var scope in new[] { "g-org", "g-lab" })
        {
            await EndorsedAsync(scope, new EndStateDraft
            {
                Vision = "We build things together and say what we think.",
                SponsorIds = { "g-ceo" },
                Targets =
                {
                    new DimensionTarget { DimensionId = "g-collab", TargetScore = 4.0, TargetDate = targetDate },
                    new DimensionTarget { DimensionId = "g-candour", TargetScore = 4.5, TargetDate = targetDate },
                    new DimensionTarget { DimensionId = "g-unmeasured", TargetScore = 4.0, TargetDate = targetDate },
                },
            });
        }

        // No baseline anywhere yet: every dimension says so, with no invented figures.
        var none = await GapAsync("g-org");
        none.Dimensions.Select(d => d.Status).ShouldBe([GapStatus.NoBaseline, GapStatus.NoBaseline, GapStatus.NoBaseline]);
        none.Dimensions.ShouldAllBe(d => d.Baseline == null && d.Latest == null && d.GapClosedShare == 0 && !d.HasProjection);

        // The baseline (closed 120 days ago): collaboration 3, candour 4, ten people in Operations.
        await AssessmentAsync("g-q1", B.AssessmentKind.Baseline, now.AddDays(-130), now.AddDays(-120), 3, 4);
        await BaselinesAsync<B.PublishScoresRequest, B.PublishScoresResponse>("PublishScores", new B.PublishScoresRequest { IdempotencyKey = "p-g-q1", AssessmentId = "g-q1" });
        await BaselinesAsync<B.SetBaselineRequest, B.SetBaselineResponse>("SetBaseline",
            new B.SetBaselineRequest { IdempotencyKey = "b-g-q1", ScopeOrgUnitId = "g-org", AssessmentId = "g-q1" });
        // A pulse closed 20 days ago: collaboration 4.5, candour 3.
        await AssessmentAsync("g-q2", B.AssessmentKind.Pulse, now.AddDays(-30), now.AddDays(-20), 5, 3, secondHalf: (4, 3));

        var gap = await GapAsync("g-org");
        var collaboration = gap.Dimensions.Single(d => d.DimensionId == "g-collab");
        (collaboration.Baseline.Score, collaboration.Latest.Score, collaboration.Latest.AssessmentId).ShouldBe((3.0, 4.5, "g-q2"));
        collaboration.Status.ShouldBe(GapStatus.TargetMet);
        (collaboration.GapClosedShare, collaboration.GapClosedShareUnclamped).ShouldBe((1.0, 1.5));
        collaboration.Explanation.ShouldContain("already met");

        var candour = gap.Dimensions.Single(d => d.DimensionId == "g-candour");
        (candour.Baseline.Score, candour.Latest.Score).ShouldBe((4.0, 3.0));
        (candour.Status, candour.GapClosedShare, candour.HasProjection).ShouldBe((GapStatus.AtRisk, 0.0, false));
        candour.GapClosedShareUnclamped.ShouldBe(-2.0, 1e-9);
        candour.TrendPerYear.ShouldBeLessThan(0);
        candour.Explanation.ShouldContain("moving away");

        gap.Dimensions.Single(d => d.DimensionId == "g-unmeasured").Status.ShouldBe(GapStatus.NoBaseline);

        // A scope outside the surveyed tree still has no baseline, whatever was measured elsewhere.
        (await GapAsync("g-lab")).Dimensions.ShouldAllBe(d => d.Status == GapStatus.NoBaseline);
    }

    [Fact]
    public async Task ADraftsGapIsReadByVersionAndOnlyReadersMayReadIt()
    {
        await host.CallAsync<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "gd-draft", ScopeOrgUnitId = "gd-unit", Draft = new EndStateDraft
            {
                Vision = "Draft only.", SponsorIds = { "g-ceo" },
                Targets = { new DimensionTarget { DimensionId = "gd-dim", TargetScore = 4, TargetDate = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(90)) } },
            },
        }, Hr);

        // Not endorsed: the gap names the missing endorsement; by version it is computed.
        (await Should.ThrowAsync<RpcException>(() => GapAsync("gd-unit"))).StatusCode.ShouldBe(StatusCode.NotFound);
        var draft = await host.CallAsync<GetGapRequest, GetGapResponse>("GetGap", new GetGapRequest { ScopeOrgUnitId = "gd-unit", Version = 1 }, Hr);
        (draft.Version, draft.Status, draft.Dimensions.Single().Status).ShouldBe((1L, EndStateStatus.Draft, GapStatus.NoBaseline));

        var employee = host.Identity.TokenFor("e-1", Roles.Employee);
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetGapRequest, GetGapResponse>("GetGap",
            new GetGapRequest { ScopeOrgUnitId = "gd-unit", Version = 1 }, employee))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await Should.ThrowAsync<RpcException>(() => host.Client.UnaryAsync<GetGapRequest, GetGapResponse>(
            EndstateReflection.Descriptor.Services[0].FindMethodByName("GetGap"), new GetGapRequest { ScopeOrgUnitId = "gd-unit", Version = 1 },
            new CallOptions()))).StatusCode.ShouldBe(StatusCode.Unauthenticated);
    }

    private Task<GetGapResponse> GapAsync(string scope) =>
        host.CallAsync<GetGapRequest, GetGapResponse>("GetGap", new GetGapRequest { ScopeOrgUnitId = scope }, Hr);

    private async Task EndorsedAsync(string scope, EndStateDraft draft)
    {
        await host.CallAsync<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState",
            new DraftEndStateRequest { IdempotencyKey = "draft-" + scope, ScopeOrgUnitId = scope, Draft = draft }, Hr);
        await host.CallAsync<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState",
            new ProposeEndStateRequest { IdempotencyKey = "propose-" + scope, ScopeOrgUnitId = scope, ExpectedVersion = 1 }, Hr);
        var endorsed = await host.CallAsync<EndorseEndStateRequest, EndorseEndStateResponse>("EndorseEndState",
            new EndorseEndStateRequest { IdempotencyKey = "endorse-" + scope, ScopeOrgUnitId = scope, Version = 2 },
            host.Identity.TokenFor("g-ceo", Roles.Executive));
        endorsed.EndState.Status.ShouldBe(EndStateStatus.Endorsed);
    }

    /// <summary>Ten people in Operations answer (collaboration, candour); with <paramref name="secondHalf"/> five of them answer that instead.</summary>
    private async Task AssessmentAsync(string id, B.AssessmentKind kind, DateTimeOffset opens, DateTimeOffset closes, int collaboration, int candour,
        (int Collaboration, int Candour)? secondHalf = null)
    {
        await BaselinesAsync<B.CreateAssessmentRequest, B.CreateAssessmentResponse>("CreateAssessment", new B.CreateAssessmentRequest
        {
            IdempotencyKey = "a-" + id, AssessmentId = id, Title = id, Kind = kind, OpensAt = Timestamp.FromDateTimeOffset(opens),
            ClosesAt = Timestamp.FromDateTimeOffset(closes), PopulationOrgUnitIds = { "g-org" }, ItemIds = { "i-g-collab", "i-g-candour" },
        });
        using (var call = host.BaselinesClient.ClientStreaming<B.SubmitResponsesRequest, B.SubmitResponsesResponse>(
            B.BaselinesReflection.Descriptor.Services[0].FindMethodByName("SubmitResponses"), EndStateHost.As(Hr)))
        {
            await call.RequestStream.WriteAsync(new B.SubmitResponsesRequest { Header = new B.SubmitResponsesHeader { AssessmentId = id } });
            await call.RequestStream.WriteAsync(new B.SubmitResponsesRequest
            {
                Rows =
                {
                    Enumerable.Range(0, 10).Select(i => new B.ResponseRow
                    {
                        Line = i + 2, RespondentToken = $"{id}-{i}", OrgUnitId = "g-ops", TenureBand = "0-2", RoleLevel = "ic", Location = "remote",
                        Answers = { i < 5 || secondHalf is null ? collaboration : secondHalf.Value.Collaboration, i < 5 || secondHalf is null ? candour : secondHalf.Value.Candour },
                    }),
                },
            });
            await call.RequestStream.CompleteAsync();
            (await call.ResponseAsync).Accepted.ShouldBe(10);
        }

        await BaselinesAsync<B.CloseAssessmentRequest, B.CloseAssessmentResponse>("CloseAssessment",
            new B.CloseAssessmentRequest { IdempotencyKey = "c-" + id, AssessmentId = id });
    }

    private Task<TResponse> BaselinesAsync<TRequest, TResponse>(string method, TRequest request)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        host.BaselinesClient.UnaryAsync<TRequest, TResponse>(B.BaselinesReflection.Descriptor.Services[0].FindMethodByName(method), request, EndStateHost.As(Hr));
}
