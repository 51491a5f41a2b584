using Google.Protobuf;
using Transformation.Baselines.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Model;

/// <summary>
/// A notification an event puts in a person's inbox. <see cref="Subject"/> names what it is about (the same for every
/// recipient), so that the event which ends the wait marks it done; <see cref="Version"/> orders the waits on one subject
/// (an end state's proposal, then a later one); <see cref="UnitId"/> is named in the title when known.
/// </summary>
public sealed record NewNotification(string RecipientId, NotificationKind Kind, string Subject, string Link, string Detail = "", string UnitId = "",
    long Version = 0);

/// <summary>The waits on <see cref="Subject"/> older than <see cref="Version"/> are over, for one recipient or (empty) for every one.</summary>
public sealed record Completion(string Subject, long Version, string RecipientId = "");

/// <summary>What one integration event changes in the inboxes.</summary>
public sealed record InboxChanges(IReadOnlyList<NewNotification> Added, IReadOnlyList<Completion> Completed)
{
    public static InboxChanges None { get; } = new([], []);

    public static InboxChanges Add(params NewNotification[] added) => new(added, []);

    public static InboxChanges Complete(params Completion[] completed) => new([], completed);
}

/// <summary>Which events notify whom, and which end a wait: the rules of the inbox, without I/O.</summary>
public static class Inbox
{
    public const string EndorsementsLink = "executive/endorsements";
    public const string RecognitionLink = "me";
    public const string ReviewLink = "me";
    public const string StoriesLink = "executive/endorsements";

    public static InboxChanges Changes(IMessage message) => message switch
    {
        // Each named sponsor who has not endorsed yet. Every endorsement is a newer version of the scope's end state: one ends
        // its sponsor's wait, the last (endorsed) or a decline (a newer draft) ends them all; a later proposal waits anew.
        EndStateProposed { EndState: { } proposed } => InboxChanges.Add([.. proposed.Draft.SponsorIds
            .Where(s => !proposed.Endorsements.Any(e => string.Equals(e.SponsorId, s, StringComparison.Ordinal)))
            .Select(s => new NewNotification(s, NotificationKind.EndorsementRequested, EndStateSubject(proposed.ScopeOrgUnitId),
                EndorsementsLink, UnitId: proposed.ScopeOrgUnitId, Version: proposed.Version))]),
        EndStateEndorsementRecorded { EndState: { } endorsed, Endorsement: { } endorsement } =>
            InboxChanges.Complete(new Completion(EndStateSubject(endorsed.ScopeOrgUnitId), endorsed.Version, endorsement.SponsorId)),
        EndStateEndorsed { EndState: { } endorsed } => InboxChanges.Complete(new Completion(EndStateSubject(endorsed.ScopeOrgUnitId), endorsed.Version)),
        EndStateDeclined { EndState: { } draft } => InboxChanges.Complete(new Completion(EndStateSubject(draft.ScopeOrgUnitId), draft.Version)),
        RecognitionPublished recognition => InboxChanges.Add(new NewNotification(recognition.EmployeeId, NotificationKind.RecognitionReceived,
            RewardSubject(recognition.RewardId), RecognitionLink,
            recognition.Message.Length > 0 ? $"{recognition.BehaviourName}: {recognition.Message}" : recognition.BehaviourName)),
        RewardRevoked revoked => InboxChanges.Add(new NewNotification(revoked.EmployeeId, NotificationKind.RewardRevoked,
            RewardSubject(revoked.RewardId), RecognitionLink, revoked.Reason)),
        // The manager who may approve it; hr (a role: this service keeps no one's roles) reads its review queue.
        RewardHeld held => InboxChanges.Add(new NewNotification(held.ApproverId, NotificationKind.RewardAwaitingApproval, ReviewSubject(held.RewardId),
            ReviewLink, held.BehaviourName.Length > 0 ? $"{held.BehaviourName}: {held.Points} points" : $"{held.Points} points")),
        RewardReviewed reviewed => InboxChanges.Complete(new Completion(ReviewSubject(reviewed.RewardId), 1)),
        // Each person who may publish it (the sponsor; hr is a role, as above); its publication ends the wait.
        SuccessStorySubmitted submitted => InboxChanges.Add([.. submitted.SponsorIds.Distinct(StringComparer.Ordinal).Select(s =>
            new NewNotification(s, NotificationKind.StoryAwaitingPublication, StorySubject(submitted.StoryId), StoriesLink, submitted.Title))]),
        SuccessStoryPublished published => InboxChanges.Complete(new Completion(StorySubject(published.StoryId), 1)),
        // Every invitee of the batch; the survey's closing ends them all (who answered is never told outside Baselines).
        SurveyInvitation invitation => InboxChanges.Add([.. invitation.EmployeeIds.Distinct(StringComparer.Ordinal).Select(e =>
            new NewNotification(e, NotificationKind.SurveyOpen, SurveySubject(invitation.AssessmentId), SurveysLink(invitation.AssessmentId), invitation.Title))]),
        AssessmentClosed closed => InboxChanges.Complete(new Completion(SurveySubject(closed.AssessmentId), 1)),
        _ => InboxChanges.None,
    };

    /// <summary>The sentence a person reads; <paramref name="unitName"/> is empty when the unit is not known here.</summary>
    public static string Title(NotificationKind kind, string unitName) => kind switch
    {
        NotificationKind.EndorsementRequested => unitName.Length > 0
            ? $"The target end state of {unitName} waits for your endorsement."
            : "A target end state waits for your endorsement.",
        NotificationKind.RewardAwaitingApproval => "A held reward waits for your approval.",
        NotificationKind.StoryAwaitingPublication => "A success story waits for you to publish it.",
        NotificationKind.RecognitionReceived => "You received recognition.",
        NotificationKind.SurveyOpen => "A survey is open for you.",
        NotificationKind.RewardRevoked => "A reward of yours was revoked.",
        _ => "Something new for you.",
    };

    private static string EndStateSubject(string scopeOrgUnitId) => $"end-state/{scopeOrgUnitId}";

    private static string RewardSubject(string rewardId) => $"reward/{rewardId}";

    private static string SurveySubject(string assessmentId) => $"survey/{assessmentId}";

    private static string SurveysLink(string assessmentId) => $"me/surveys/{Uri.EscapeDataString(assessmentId)}";

    private static string StorySubject(string storyId) => $"story/{storyId}";

    // Not the reward's own subject: its approval's RewardGranted and RecognitionPublished must not end the recipient's waits.
    private static string ReviewSubject(string rewardId) => $"reward-review/{rewardId}";
}
