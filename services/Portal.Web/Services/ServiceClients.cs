using Google.Protobuf;
using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Transformation.Portal.Web.Services;

/// <summary>One pooled HTTP/2 connection set per service, shared by every circuit.</summary>
public sealed class ServiceChannels(IOptions<ServiceAddresses> addresses) : IDisposable
{
    public GrpcClient Directory { get; } = GrpcClient.Create(addresses.Value.Directory!);

    public GrpcClient Incentives { get; } = GrpcClient.Create(addresses.Value.Incentives!);

    public GrpcClient Baselines { get; } = GrpcClient.Create(addresses.Value.Baselines!);

    public GrpcClient Initiatives { get; } = GrpcClient.Create(addresses.Value.Initiatives!);

    public GrpcClient EndState { get; } = GrpcClient.Create(addresses.Value.EndState!);

    public void Dispose()
    {
        Directory.Dispose();
        Incentives.Dispose();
        Baselines.Dispose();
        Initiatives.Dispose();
        EndState.Dispose();
    }
}

/// <summary>
/// Calls one service as the signed-in person (their bearer token on every call). Unary calls give up after
/// Portal:CallTimeout, so a hung service turns into a message instead of a hung page. The derived clients list the
/// RPCs the portal uses, one line each, as generated client stubs would.
/// </summary>
public abstract class ServiceClient(GrpcClient grpc, ServiceDescriptor service, SignedInPerson person, IOptions<PortalOptions> options)
{
    protected async Task<TResponse> UnaryAsync<TRequest, TResponse>(string method, TRequest request, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        await grpc.UnaryAsync<TRequest, TResponse>(service.FindMethodByName(method), request,
            await CallOptionsAsync(options.Value.CallTimeout, cancellationToken));

    protected async Task<ClientCall<TRequest, TResponse>> ServerStreamingAsync<TRequest, TResponse>(string method, TRequest request,
        CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        grpc.ServerStreaming<TRequest, TResponse>(service.FindMethodByName(method), request, await CallOptionsAsync(null, cancellationToken));

    protected async Task<ClientCall<TRequest, TResponse>> ClientStreamingAsync<TRequest, TResponse>(string method, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        grpc.Streaming<TRequest, TResponse>(service.FindMethodByName(method), await CallOptionsAsync(null, cancellationToken));

    private async Task<CallOptions> CallOptionsAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var token = await person.AccessTokenAsync() ?? throw new RpcException(StatusCode.Unauthenticated, "Nobody is signed in.");
        return new CallOptions
        {
            Headers = new Metadata { { "authorization", "Bearer " + token } },
            Timeout = timeout,
            CancellationToken = cancellationToken,
        };
    }
}

public sealed class DirectoryClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Directory, DirectoryReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "The Directory";

    public Task<GetOrgTreeResponse> GetOrgTreeAsync(GetOrgTreeRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetOrgTreeRequest, GetOrgTreeResponse>("GetOrgTree", request, ct);

    public Task<GetEmployeeResponse> GetEmployeeAsync(GetEmployeeRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee", request, ct);

    public Task<ListUnitMembersResponse> ListUnitMembersAsync(ListUnitMembersRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListUnitMembersRequest, ListUnitMembersResponse>("ListUnitMembers", request, ct);
}

public sealed class IncentivesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Incentives, IncentivesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Incentives";

    public Task<DefineBehaviourResponse> DefineBehaviourAsync(DefineBehaviourRequest request, CancellationToken ct = default) =>
        UnaryAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour", request, ct);

    public Task<ListBehavioursResponse> ListBehavioursAsync(ListBehavioursRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListBehavioursRequest, ListBehavioursResponse>("ListBehaviours", request, ct);

    public Task<GetIncentiveRulesResponse> GetIncentiveRulesAsync(GetIncentiveRulesRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", request, ct);

    public Task<UpdateIncentiveRulesResponse> UpdateIncentiveRulesAsync(UpdateIncentiveRulesRequest request, CancellationToken ct = default) =>
        UnaryAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules", request, ct);

    public Task<SetBudgetResponse> SetBudgetAsync(SetBudgetRequest request, CancellationToken ct = default) =>
        UnaryAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget", request, ct);

    public Task<GetBudgetResponse> GetBudgetAsync(GetBudgetRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetBudgetRequest, GetBudgetResponse>("GetBudget", request, ct);

    public Task<GiveRecognitionResponse> GiveRecognitionAsync(GiveRecognitionRequest request, CancellationToken ct = default) =>
        UnaryAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", request, ct);

    public Task<GetEmployeeFeedResponse> GetEmployeeFeedAsync(GetEmployeeFeedRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>("GetEmployeeFeed", request, ct);

    public Task<GetPublicFeedResponse> GetPublicFeedAsync(GetPublicFeedRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetPublicFeedRequest, GetPublicFeedResponse>("GetPublicFeed", request, ct);

    public Task<ListReviewQueueResponse> ListReviewQueueAsync(ListReviewQueueRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", request, ct);

    public Task<ReviewRewardResponse> ReviewRewardAsync(ReviewRewardRequest request, CancellationToken ct = default) =>
        UnaryAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward", request, ct);

    /// <summary>Each reward that reaches the employee's feed from now on, until <paramref name="ct"/> is cancelled.</summary>
    public Task<ClientCall<WatchEmployeeFeedRequest, WatchEmployeeFeedResponse>> WatchEmployeeFeedAsync(WatchEmployeeFeedRequest request,
        CancellationToken ct) =>
        ServerStreamingAsync<WatchEmployeeFeedRequest, WatchEmployeeFeedResponse>("WatchEmployeeFeed", request, ct);

    public Task<GetRecognitionEquityResponse> GetRecognitionEquityAsync(GetRecognitionEquityRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>("GetRecognitionEquity", request, ct);

    public Task<GetCallOutReportResponse> GetCallOutReportAsync(GetCallOutReportRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetCallOutReportRequest, GetCallOutReportResponse>("GetCallOutReport", request, ct);
}

public sealed class BaselinesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Baselines, BaselinesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Baselines";

    public Task<DefineDimensionResponse> DefineDimensionAsync(DefineDimensionRequest request, CancellationToken ct = default) =>
        UnaryAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", request, ct);

    public Task<ListDimensionsResponse> ListDimensionsAsync(ListDimensionsRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListDimensionsRequest, ListDimensionsResponse>("ListDimensions", request, ct);

    public Task<DefineItemResponse> DefineItemAsync(DefineItemRequest request, CancellationToken ct = default) =>
        UnaryAsync<DefineItemRequest, DefineItemResponse>("DefineItem", request, ct);

    public Task<CreateAssessmentResponse> CreateAssessmentAsync(CreateAssessmentRequest request, CancellationToken ct = default) =>
        UnaryAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", request, ct);

    public Task<GetAssessmentResponse> GetAssessmentAsync(GetAssessmentRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetAssessmentRequest, GetAssessmentResponse>("GetAssessment", request, ct);

    public Task<CloseAssessmentResponse> CloseAssessmentAsync(CloseAssessmentRequest request, CancellationToken ct = default) =>
        UnaryAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment", request, ct);

    public Task<PublishScoresResponse> PublishScoresAsync(PublishScoresRequest request, CancellationToken ct = default) =>
        UnaryAsync<PublishScoresRequest, PublishScoresResponse>("PublishScores", request, ct);

    /// <summary>Starts a bulk submission: write the header, then rows; the service stores all or nothing when the request ends.</summary>
    public Task<ClientCall<SubmitResponsesRequest, SubmitResponsesResponse>> SubmitResponsesAsync(CancellationToken ct) =>
        ClientStreamingAsync<SubmitResponsesRequest, SubmitResponsesResponse>("SubmitResponses", ct);

    public Task<GetHeatmapResponse> GetHeatmapAsync(GetHeatmapRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap", request, ct);

    public Task<SetBaselineResponse> SetBaselineAsync(SetBaselineRequest request, CancellationToken ct = default) =>
        UnaryAsync<SetBaselineRequest, SetBaselineResponse>("SetBaseline", request, ct);

    public Task<ListBaselinesResponse> ListBaselinesAsync(ListBaselinesRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListBaselinesRequest, ListBaselinesResponse>("ListBaselines", request, ct);
}

public sealed class InitiativesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Initiatives, InitiativesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Initiatives";

    public Task<ListInitiativesResponse> ListInitiativesAsync(ListInitiativesRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives", request, ct);

    public Task<GetInitiativeResponse> GetInitiativeAsync(GetInitiativeRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetInitiativeRequest, GetInitiativeResponse>("GetInitiative", request, ct);

    public Task<SponsorInitiativeResponse> SponsorInitiativeAsync(SponsorInitiativeRequest request, CancellationToken ct = default) =>
        UnaryAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative", request, ct);

    public Task<ActivateInitiativeResponse> ActivateInitiativeAsync(ActivateInitiativeRequest request, CancellationToken ct = default) =>
        UnaryAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative", request, ct);

    public Task<RecordObservationResponse> RecordObservationAsync(RecordObservationRequest request, CancellationToken ct = default) =>
        UnaryAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", request, ct);

    /// <summary>Starts a batch of observations: all or nothing when the request ends.</summary>
    public Task<ClientCall<RecordObservationsRequest, RecordObservationsResponse>> RecordObservationsAsync(CancellationToken ct) =>
        ClientStreamingAsync<RecordObservationsRequest, RecordObservationsResponse>("RecordObservations", ct);

    public Task<ListObservationsResponse> ListObservationsAsync(ListObservationsRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations", request, ct);

    public Task<DraftSuccessStoryResponse> DraftSuccessStoryAsync(DraftSuccessStoryRequest request, CancellationToken ct = default) =>
        UnaryAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory", request, ct);

    public Task<SubmitSuccessStoryResponse> SubmitSuccessStoryAsync(SubmitSuccessStoryRequest request, CancellationToken ct = default) =>
        UnaryAsync<SubmitSuccessStoryRequest, SubmitSuccessStoryResponse>("SubmitSuccessStory", request, ct);

    public Task<PublishSuccessStoryResponse> PublishSuccessStoryAsync(PublishSuccessStoryRequest request, CancellationToken ct = default) =>
        UnaryAsync<PublishSuccessStoryRequest, PublishSuccessStoryResponse>("PublishSuccessStory", request, ct);

    public Task<GetSuccessStoryResponse> GetSuccessStoryAsync(GetSuccessStoryRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetSuccessStoryRequest, GetSuccessStoryResponse>("GetSuccessStory", request, ct);

    public Task<ListSuccessStoriesResponse> ListSuccessStoriesAsync(ListSuccessStoriesRequest request, CancellationToken ct = default) =>
        UnaryAsync<ListSuccessStoriesRequest, ListSuccessStoriesResponse>("ListSuccessStories", request, ct);

    public Task<ReactToSuccessStoryResponse> ReactToSuccessStoryAsync(ReactToSuccessStoryRequest request, CancellationToken ct = default) =>
        UnaryAsync<ReactToSuccessStoryRequest, ReactToSuccessStoryResponse>("ReactToSuccessStory", request, ct);
}

public sealed class EndStateClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.EndState, EndstateReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "End state";

    public Task<GetEndStateResponse> GetEndStateAsync(GetEndStateRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetEndStateRequest, GetEndStateResponse>("GetEndState", request, ct);

    public Task<EndorseEndStateResponse> EndorseEndStateAsync(EndorseEndStateRequest request, CancellationToken ct = default) =>
        UnaryAsync<EndorseEndStateRequest, EndorseEndStateResponse>("EndorseEndState", request, ct);

    public Task<DeclineEndStateResponse> DeclineEndStateAsync(DeclineEndStateRequest request, CancellationToken ct = default) =>
        UnaryAsync<DeclineEndStateRequest, DeclineEndStateResponse>("DeclineEndState", request, ct);

    public Task<GetGapResponse> GetGapAsync(GetGapRequest request, CancellationToken ct = default) =>
        UnaryAsync<GetGapRequest, GetGapResponse>("GetGap", request, ct);
}
