using Google.Protobuf.WellKnownTypes;
using Transformation.EndState.Api.Model;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.EndState.UnitTests;

public sealed class WorkflowTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 10, 9, 0, 0, TimeSpan.Zero);
    private static readonly Caller Hr = new("hr-1", new HashSet<string>(StringComparer.Ordinal) { Roles.Hr });

    private static Caller Exec(string id) => new(id, new HashSet<string>(StringComparer.Ordinal) { Roles.Executive });

    private static EndStateDraft Draft(params string[] sponsors) => new()
    {
        Vision = "We speak up and learn from mistakes.",
        Targets = { new DimensionTarget { DimensionId = "trust", TargetScore = 4.2, TargetDate = Timestamp.FromDateTimeOffset(At.AddYears(1)) } },
        SponsorIds = { sponsors },
    };

    private static EndStateVersion Proposed(params string[] sponsors) =>
        Workflow.Propose(Workflow.Draft(null, "org", 0, Draft(sponsors), Hr, At), 1, Hr, At);

    [Fact]
    public void EveryStepMakesANewVersionAndTheLastSponsorEndorses()
    {
        var draft = Workflow.Draft(null, "org", 0, Draft("ceo", "cfo"), Hr, At);
        (draft.Version, draft.Status, draft.Change).ShouldBe((1L, EndStateStatus.Draft, EndStateChange.Drafted));
        var proposed = Workflow.Propose(draft, 1, Hr, At);
        (proposed.Version, proposed.Status).ShouldBe((2L, EndStateStatus.Proposed));
        var one = Workflow.Endorse(proposed, 2, "Yes", Exec("ceo"), At.AddHours(1));
        (one.Version, one.Status, one.Change).ShouldBe((3L, EndStateStatus.Proposed, EndStateChange.EndorsementRecorded));
        var both = Workflow.Endorse(one, 3, "Agreed", Exec("cfo"), At.AddHours(2));
        (both.Version, both.Status, both.Change).ShouldBe((4L, EndStateStatus.Endorsed, EndStateChange.Endorsed));
        both.Endorsements.Select(e => (e.SponsorId, e.Comment)).ShouldBe([("ceo", "Yes"), ("cfo", "Agreed")]);
        both.Endorsements[1].EndorsedAt.ToDateTimeOffset().ShouldBe(At.AddHours(2));
        // The earlier versions are untouched.
        (proposed.Status, proposed.Endorsements.Count, one.Endorsements.Count).ShouldBe((EndStateStatus.Proposed, 0, 1));
    }

    [Fact]
    public void OnlyANamedSponsorEndorsesAndOnlyOnce()
    {
        var proposed = Proposed("ceo");
        Should.Throw<RpcException>(() => Workflow.Endorse(proposed, 2, "", Exec("cto"), At)).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        Should.Throw<RpcException>(() => Workflow.Decline(proposed, 2, "No", Exec("cto"), At)).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var twoSponsors = Proposed("ceo", "cfo");
        var once = Workflow.Endorse(twoSponsors, 2, "", Exec("ceo"), At);
        Should.Throw<RpcException>(() => Workflow.Endorse(once, 3, "", Exec("ceo"), At)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public void ADeclineWithAReasonReturnsToADraftAndClearsEndorsements()
    {
        var one = Workflow.Endorse(Proposed("ceo", "cfo"), 2, "", Exec("ceo"), At);
        Should.Throw<RpcException>(() => Workflow.Decline(one, 3, " ", Exec("cfo"), At)).StatusCode.ShouldBe(StatusCode.InvalidArgument);
        var declined = Workflow.Decline(one, 3, "Targets too timid", Exec("cfo"), At);
        (declined.Version, declined.Status, declined.Change, declined.Endorsements.Count).ShouldBe((4L, EndStateStatus.Draft, EndStateChange.Declined, 0));
        (declined.Decline.SponsorId, declined.Decline.Reason, declined.Decline.DeclinedVersion).ShouldBe(("cfo", "Targets too timid", 3L));
        Workflow.Propose(declined, 4, Hr, At).Status.ShouldBe(EndStateStatus.Proposed);
    }

    [Fact]
    public void AnEndorsedVersionCannotBeEndorsedDeclinedOrProposedAgain()
    {
        var endorsed = Workflow.Endorse(Proposed("ceo"), 2, "", Exec("ceo"), At);
        Should.Throw<RpcException>(() => Workflow.Decline(endorsed, 3, "Changed my mind", Exec("ceo"), At)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        Should.Throw<RpcException>(() => Workflow.Propose(endorsed, 3, Hr, At)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        // A change is a new draft version on top; the endorsed one stays as it was.
        var next = Workflow.Draft(endorsed, "org", 3, Draft("ceo"), Hr, At);
        (next.Version, next.Status, endorsed.Status).ShouldBe((4L, EndStateStatus.Draft, EndStateStatus.Endorsed));
    }

    [Fact]
    public void StaleVersionsAndIncompleteDraftsAreRefused()
    {
        var draft = Workflow.Draft(null, "org", 0, Draft(), Hr, At);
        Should.Throw<RpcException>(() => Workflow.Draft(draft, "org", 0, Draft(), Hr, At)).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var noSponsors = Should.Throw<RpcException>(() => Workflow.Propose(draft, 1, Hr, At));
        noSponsors.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        noSponsors.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("draft.sponsor_ids");
    }

    [Fact]
    public void DraftValidationNamesTheFields()
    {
        var bad = new EndStateDraft
        {
            Vision = "",
            Targets =
            {
                new DimensionTarget { DimensionId = "trust", TargetScore = 5.5, TargetDate = Timestamp.FromDateTimeOffset(At) },
                new DimensionTarget { DimensionId = "trust", TargetScore = 3 },
            },
            SponsorIds = { "ceo", "ceo" },
        };
        var error = Should.Throw<RpcException>(() => Workflow.ValidateDraft(bad));
        error.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(
            ["draft.vision", "draft.targets[0].target_score", "draft.targets[1].dimension_id", "draft.targets[1].target_date", "draft.sponsor_ids[1]"]);
    }

    [Fact]
    public void ANewerEndorsedVersionSupersedesTheOlder()
    {
        var first = Workflow.Endorse(Proposed("ceo"), 2, "", Exec("ceo"), At);
        var draft = Workflow.Draft(first, "org", 3, Draft("ceo"), Hr, At);
        var second = Workflow.Endorse(Workflow.Propose(draft, 4, Hr, At), 5, "", Exec("ceo"), At);
        var history = new List<EndStateVersion> { first, draft, second };
        Workflow.MarkSuperseded(history);
        (first.SupersededByVersion, second.SupersededByVersion).ShouldBe((6L, 0L));
    }
}
