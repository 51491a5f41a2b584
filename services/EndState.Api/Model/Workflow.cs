using Google.Protobuf.WellKnownTypes;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.EndState.Api.Model;

/// <summary>
/// Draft → Proposed → Endorsed (once every named sponsor endorsed); a decline sends it back to a draft. Each step returns
/// a new version; the previous one is never changed, so an endorsed version is immutable.
/// </summary>
public static class Workflow
{
    public const double MinimumScore = 1.0;
    public const double MaximumScore = 5.0;
    public const int MaximumVisionLength = 20_000;

    /// <summary>A new draft version on top of <paramref name="latest"/> (null for the first).</summary>
    public static EndStateVersion Draft(EndStateVersion? latest, string scope, long expectedVersion, EndStateDraft draft, Caller by, DateTimeOffset at)
    {
        ValidateDraft(draft);
        ExpectVersion(latest, expectedVersion);
        return Next(latest, scope, EndStateStatus.Draft, EndStateChange.Drafted, by, at, draft.Clone());
    }

    public static EndStateVersion Propose(EndStateVersion? latest, long expectedVersion, Caller by, DateTimeOffset at)
    {
        var current = Existing(latest);
        ExpectVersion(current, expectedVersion);
        if (current.Status != EndStateStatus.Draft)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Only a draft can be proposed; version {current.Version} is {Name(current.Status)}."));
        }

        var violations = new List<(string, string)>();
        if (current.Draft.SponsorIds.Count == 0)
        {
            violations.Add(("draft.sponsor_ids", "Name at least one executive sponsor before proposing."));
        }

        if (current.Draft.Targets.Count == 0)
        {
            violations.Add(("draft.targets", "Set at least one dimension target before proposing."));
        }

        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The draft is not complete.", [.. violations]);
        }

        return Next(current, current.ScopeOrgUnitId, EndStateStatus.Proposed, EndStateChange.Proposed, by, at, current.Draft.Clone());
    }

    public static EndStateVersion Endorse(EndStateVersion? latest, long version, string comment, Caller by, DateTimeOffset at)
    {
        var current = Proposed(latest, version, by);
        if (current.Endorsements.Any(e => string.Equals(e.SponsorId, by.Subject, StringComparison.Ordinal)))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"{by.Subject} already endorsed version {current.Version}."));
        }

        var endorsements = current.Endorsements.Append(new Endorsement { SponsorId = by.Subject, EndorsedAt = Timestamp.FromDateTimeOffset(at), Comment = comment });
        var complete = current.Draft.SponsorIds.All(s => endorsements.Any(e => string.Equals(e.SponsorId, s, StringComparison.Ordinal)));
        var next = Next(current, current.ScopeOrgUnitId, complete ? EndStateStatus.Endorsed : EndStateStatus.Proposed,
            complete ? EndStateChange.Endorsed : EndStateChange.EndorsementRecorded, by, at, current.Draft.Clone());
        next.Endorsements.AddRange(endorsements.Select(e => e.Clone()));
        return next;
    }

    public static EndStateVersion Decline(EndStateVersion? latest, long version, string reason, Caller by, DateTimeOffset at)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw RpcErrors.InvalidArgument("A decline needs a reason.", ("reason", "Say why the end state is declined."));
        }

        var current = Proposed(latest, version, by);
        var next = Next(current, current.ScopeOrgUnitId, EndStateStatus.Draft, EndStateChange.Declined, by, at, current.Draft.Clone());
        next.Decline = new Decline { SponsorId = by.Subject, DeclinedAt = Timestamp.FromDateTimeOffset(at), Reason = reason, DeclinedVersion = current.Version };
        return next;
    }

    /// <summary>Marks older endorsed versions with the endorsed version that superseded them (history is read oldest first).</summary>
    public static void MarkSuperseded(IReadOnlyList<EndStateVersion> history)
    {
        long newerEndorsed = 0;
        for (var i = history.Count - 1; i >= 0; i--)
        {
            if (history[i].Status == EndStateStatus.Endorsed)
            {
                history[i].SupersededByVersion = newerEndorsed;
                newerEndorsed = history[i].Version;
            }
        }
    }

    public static void ValidateDraft(EndStateDraft? draft)
    {
        var violations = new List<(string, string)>();
        if (draft is null)
        {
            throw RpcErrors.InvalidArgument("The draft is required.", ("draft", "The vision, targets and sponsors."));
        }

        if (string.IsNullOrWhiteSpace(draft.Vision))
        {
            violations.Add(("draft.vision", "The vision narrative is required."));
        }
        else if (draft.Vision.Length > MaximumVisionLength)
        {
            violations.Add(("draft.vision", $"At most {MaximumVisionLength} characters."));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < draft.Targets.Count; i++)
        {
            var target = draft.Targets[i];
            if (target.DimensionId.Length == 0)
            {
                violations.Add(($"draft.targets[{i}].dimension_id", "The dimension is required."));
            }
            else if (!seen.Add(target.DimensionId))
            {
                violations.Add(($"draft.targets[{i}].dimension_id", "Each dimension has one target."));
            }

            if (double.IsNaN(target.TargetScore) || target.TargetScore < MinimumScore || target.TargetScore > MaximumScore)
            {
                violations.Add(($"draft.targets[{i}].target_score", $"Between {MinimumScore} and {MaximumScore}."));
            }

            if (target.TargetDate is null)
            {
                violations.Add(($"draft.targets[{i}].target_date", "The target date is required."));
            }
        }

        var sponsors = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < draft.SponsorIds.Count; i++)
        {
            if (draft.SponsorIds[i].Length == 0 || !sponsors.Add(draft.SponsorIds[i]))
            {
                violations.Add(($"draft.sponsor_ids[{i}]", "Sponsors are distinct, non-empty employee ids."));
            }
        }

        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The draft is not valid.", [.. violations]);
        }
    }

    private static EndStateVersion Proposed(EndStateVersion? latest, long version, Caller by)
    {
        var current = Existing(latest);
        if (!current.Draft.SponsorIds.Contains(by.Subject))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the end state's named sponsors endorse or decline it."));
        }

        if (current.Version != version)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"Version {version} is not the current one (the latest is {current.Version}); an endorsed or earlier version never changes."));
        }

        return current.Status == EndStateStatus.Proposed ? current
            : throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Version {current.Version} is {Name(current.Status)}, not proposed; it cannot be endorsed or declined."));
    }

    private static EndStateVersion Existing(EndStateVersion? latest) =>
        latest ?? throw new RpcException(new Status(StatusCode.NotFound, "This scope has no end state."));

    private static void ExpectVersion(EndStateVersion? latest, long expected)
    {
        var actual = latest?.Version ?? 0;
        if (actual != expected)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Expected version {expected}, but the latest is {actual}."));
        }
    }

    private static EndStateVersion Next(EndStateVersion? previous, string scope, EndStateStatus status, EndStateChange change, Caller by, DateTimeOffset at,
        EndStateDraft draft) => new()
    {
        ScopeOrgUnitId = scope,
        Version = (previous?.Version ?? 0) + 1,
        Status = status,
        Change = change,
        Draft = draft,
        ChangedBy = by.Subject,
        ChangedAt = Timestamp.FromDateTimeOffset(at),
    };

    private static string Name(EndStateStatus status) => status.ToString().ToLowerInvariant();
}
