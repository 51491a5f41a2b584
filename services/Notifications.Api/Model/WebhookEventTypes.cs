using Google.Protobuf;
using Google.Protobuf.Reflection;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.EventBus;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Notifications.Api.IntegrationEvents.Handlers;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Model;

/// <summary>
/// The integration events an endpoint may be registered for (by topic), the formats each allows, and the topics that
/// never leave the system. Every event of every events.proto is here except behaviour-observed: it carries the call-outs
/// (observations of unacceptable behaviour, and the concerns people report privately), which hr alone reads one by one.
/// </summary>
public static class WebhookEventTypes
{
    private static readonly WebhookFormat[] CloudEventsOnly = [WebhookFormat.CloudEvents];
    private static readonly WebhookFormat[] CloudEventsOrChat = [WebhookFormat.CloudEvents, WebhookFormat.ChatText];

    private static readonly Offered[] All =
    [
        Offer<DimensionDefined>(), Offer<DimensionRevised>(), Offer<ItemDefined>(), Offer<AssessmentOpened>(), Offer<SurveyInvitation>(), Offer<AssessmentClosed>(),
        Offer<ScoresPublished>(), Offer<BaselineSet>(),
        Offer<OrgUnitChanged>(), Offer<EmployeeJoined>(), Offer<EmployeeMoved>(), Offer<EmployeeUpdated>(), Offer<EmployeeLeft>(), Offer<EmployeeErased>(),
        Offer<EndStateDrafted>(), Offer<EndStateProposed>(), Offer<EndStateEndorsementRecorded>(), Offer<EndStateEndorsed>(), Offer<EndStateDeclined>(),
        Offer<BehaviourDefined>(), Offer<BehaviourRevised>(), Offer<RewardGranted>(), Offer<BadgeAwarded>(), Offer<RecognitionPublished>(chat: true),
        Offer<RewardRevoked>(), Offer<RewardHeld>(), Offer<RewardReviewed>(), Offer<PointsRedeemed>(), Offer<PointsRefunded>(), Offer<RedemptionFulfilled>(),
        Offer<InitiativeProposed>(), Offer<InitiativeUpdated>(), Offer<InitiativeSponsored>(), Offer<InitiativeStatusChanged>(), Offer<InitiativeProgressed>(),
        Offer<MilestoneReached>(), Offer<SuccessStorySubmitted>(), Offer<SuccessStoryPublished>(chat: true),
    ];

    private static readonly Dictionary<string, Offered> ByTopic = All.ToDictionary(o => o.Topic, StringComparer.Ordinal);

    /// <summary>Topics whose events never leave the system: refused at registration and withheld at dispatch.</summary>
    public static IReadOnlySet<string> Withheld { get; } = new HashSet<string>([EventNames.Topic(BehaviourObserved.Descriptor)], StringComparer.Ordinal);

    public static IEnumerable<WebhookEventType> List() => All.Select(o => new WebhookEventType
    {
        EventType = o.Topic,
        CloudEventType = EventNames.Type(o.Descriptor),
        Formats = { o.Chat ? CloudEventsOrChat : CloudEventsOnly },
    });

    public static bool IsOffered(string topic) => ByTopic.ContainsKey(topic);

    public static bool AllowsChat(string topic) => ByTopic.TryGetValue(topic, out var offered) && offered.Chat;

    /// <summary>
    /// Subscribes the service to every offered topic: each event becomes a delivery per endpoint registered for it, and whatever
    /// it changes in the inboxes (<see cref="HandleIntegrationEvent{TEvent}"/>).
    /// </summary>
    public static void Subscribe(IServiceCollection services)
    {
        foreach (var offered in All)
        {
            offered.Subscribe(services);
        }
    }

    private static Offered Offer<TEvent>(bool chat = false)
        where TEvent : IMessage<TEvent>, new() =>
        new(new TEvent().Descriptor, chat, services => services.AddSubscription<TEvent, HandleIntegrationEvent<TEvent>>());

    private sealed record Offered(MessageDescriptor Descriptor, bool Chat, Action<IServiceCollection> Subscribe)
    {
        public string Topic { get; } = EventNames.Topic(Descriptor);
    }
}
