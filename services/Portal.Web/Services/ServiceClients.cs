using Google.Protobuf;
using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using MethodDescriptor = Google.Protobuf.Reflection.MethodDescriptor;
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
/// RPCs the portal uses, one line each, as generated client stubs would: the RPC is the service's method whose request
/// message is the one passed (each RPC has its own request message), so a line cannot name one method and send
/// another's message.
/// </summary>
public abstract class ServiceClient(GrpcClient grpc, ServiceDescriptor service, SignedInPerson person, IOptions<PortalOptions> options)
{
    /// <summary>The one call helper: the unary RPC taking <typeparamref name="TRequest"/>, answered with <typeparamref name="TResponse"/>.</summary>
    protected async Task<TResponse> Unary<TRequest, TResponse>(TRequest request, MessageParser<TResponse> response, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        await grpc.UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse>(response), request, await CallOptionsAsync(options.Value.CallTimeout, cancellationToken));

    /// <summary>A server-streaming RPC (no deadline: it lasts as long as the page watches).</summary>
    protected async Task<ClientCall<TRequest, TResponse>> ServerStreaming<TRequest, TResponse>(TRequest request, MessageParser<TResponse> response,
        CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        grpc.ServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse>(response), request, await CallOptionsAsync(null, cancellationToken));

    /// <summary>A client-streaming RPC: the caller writes its requests, then reads the single response.</summary>
    protected async Task<ClientCall<TRequest, TResponse>> ClientStreaming<TRequest, TResponse>(MessageParser<TRequest> request, MessageParser<TResponse> response,
        CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        grpc.Streaming<TRequest, TResponse>(Method<TRequest, TResponse>(response), await CallOptionsAsync(null, cancellationToken));

    private MethodDescriptor Method<TRequest, TResponse>(MessageParser<TResponse> response)
        where TResponse : class, IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(response);
        var method = service.Methods.SingleOrDefault(m => m.InputType.ClrType == typeof(TRequest))
            ?? throw new InvalidOperationException($"{service.FullName} has no method taking {typeof(TRequest).Name}.");
        return method.OutputType.ClrType == typeof(TResponse)
            ? method
            : throw new InvalidOperationException($"{service.FullName}.{method.Name} answers {method.OutputType.Name}, not {typeof(TResponse).Name}.");
    }

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

    public Task<GetOrgTreeResponse> GetOrgTreeAsync(GetOrgTreeRequest request, CancellationToken ct = default) => Unary(request, GetOrgTreeResponse.Parser, ct);

    public Task<GetEmployeeResponse> GetEmployeeAsync(GetEmployeeRequest request, CancellationToken ct = default) => Unary(request, GetEmployeeResponse.Parser, ct);

    public Task<ListUnitMembersResponse> ListUnitMembersAsync(ListUnitMembersRequest request, CancellationToken ct = default) => Unary(request, ListUnitMembersResponse.Parser, ct);
}

public sealed class IncentivesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Incentives, IncentivesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Incentives";

    public Task<DefineBehaviourResponse> DefineBehaviourAsync(DefineBehaviourRequest request, CancellationToken ct = default) => Unary(request, DefineBehaviourResponse.Parser, ct);

    public Task<ListBehavioursResponse> ListBehavioursAsync(ListBehavioursRequest request, CancellationToken ct = default) => Unary(request, ListBehavioursResponse.Parser, ct);

    public Task<GetIncentiveRulesResponse> GetIncentiveRulesAsync(GetIncentiveRulesRequest request, CancellationToken ct = default) => Unary(request, GetIncentiveRulesResponse.Parser, ct);

    public Task<UpdateIncentiveRulesResponse> UpdateIncentiveRulesAsync(UpdateIncentiveRulesRequest request, CancellationToken ct = default) => Unary(request, UpdateIncentiveRulesResponse.Parser, ct);

    public Task<SetBudgetResponse> SetBudgetAsync(SetBudgetRequest request, CancellationToken ct = default) => Unary(request, SetBudgetResponse.Parser, ct);

    public Task<GetBudgetResponse> GetBudgetAsync(GetBudgetRequest request, CancellationToken ct = default) => Unary(request, GetBudgetResponse.Parser, ct);

    public Task<GiveRecognitionResponse> GiveRecognitionAsync(GiveRecognitionRequest request, CancellationToken ct = default) => Unary(request, GiveRecognitionResponse.Parser, ct);

    public Task<GetEmployeeFeedResponse> GetEmployeeFeedAsync(GetEmployeeFeedRequest request, CancellationToken ct = default) => Unary(request, GetEmployeeFeedResponse.Parser, ct);

    public Task<GetPublicFeedResponse> GetPublicFeedAsync(GetPublicFeedRequest request, CancellationToken ct = default) => Unary(request, GetPublicFeedResponse.Parser, ct);

    public Task<ListReviewQueueResponse> ListReviewQueueAsync(ListReviewQueueRequest request, CancellationToken ct = default) => Unary(request, ListReviewQueueResponse.Parser, ct);

    public Task<ReviewRewardResponse> ReviewRewardAsync(ReviewRewardRequest request, CancellationToken ct = default) => Unary(request, ReviewRewardResponse.Parser, ct);

    public Task<RevokeRewardResponse> RevokeRewardAsync(RevokeRewardRequest request, CancellationToken ct = default) => Unary(request, RevokeRewardResponse.Parser, ct);

    /// <summary>Each reward that reaches the employee's feed from now on, until <paramref name="ct"/> is cancelled.</summary>
    public Task<ClientCall<WatchEmployeeFeedRequest, WatchEmployeeFeedResponse>> WatchEmployeeFeedAsync(WatchEmployeeFeedRequest request,
        CancellationToken ct) =>
        ServerStreaming(request, WatchEmployeeFeedResponse.Parser, ct);

    public Task<GetRecognitionEquityResponse> GetRecognitionEquityAsync(GetRecognitionEquityRequest request, CancellationToken ct = default) => Unary(request, GetRecognitionEquityResponse.Parser, ct);

    public Task<GetLeaderboardResponse> GetLeaderboardAsync(GetLeaderboardRequest request, CancellationToken ct = default) => Unary(request, GetLeaderboardResponse.Parser, ct);

    public Task<GetLeaderboardPreferenceResponse> GetLeaderboardPreferenceAsync(GetLeaderboardPreferenceRequest request, CancellationToken ct = default) =>
        Unary(request, GetLeaderboardPreferenceResponse.Parser, ct);

    public Task<SetLeaderboardPreferenceResponse> SetLeaderboardPreferenceAsync(SetLeaderboardPreferenceRequest request, CancellationToken ct = default) =>
        Unary(request, SetLeaderboardPreferenceResponse.Parser, ct);

    public Task<GetCallOutReportResponse> GetCallOutReportAsync(GetCallOutReportRequest request, CancellationToken ct = default) => Unary(request, GetCallOutReportResponse.Parser, ct);

    public Task<Transformation.Audit.V1.ListAuditEntriesResponse> ListAuditEntriesAsync(Transformation.Audit.V1.ListAuditEntriesRequest request, CancellationToken ct = default) =>
        Unary(request, Transformation.Audit.V1.ListAuditEntriesResponse.Parser, ct);
}

public sealed class BaselinesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Baselines, BaselinesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Baselines";

    public Task<DefineDimensionResponse> DefineDimensionAsync(DefineDimensionRequest request, CancellationToken ct = default) => Unary(request, DefineDimensionResponse.Parser, ct);

    public Task<ListDimensionsResponse> ListDimensionsAsync(ListDimensionsRequest request, CancellationToken ct = default) => Unary(request, ListDimensionsResponse.Parser, ct);

    public Task<DefineItemResponse> DefineItemAsync(DefineItemRequest request, CancellationToken ct = default) => Unary(request, DefineItemResponse.Parser, ct);

    public Task<CreateAssessmentResponse> CreateAssessmentAsync(CreateAssessmentRequest request, CancellationToken ct = default) => Unary(request, CreateAssessmentResponse.Parser, ct);

    public Task<GetAssessmentResponse> GetAssessmentAsync(GetAssessmentRequest request, CancellationToken ct = default) => Unary(request, GetAssessmentResponse.Parser, ct);

    public Task<ListAssessmentsResponse> ListAssessmentsAsync(ListAssessmentsRequest request, CancellationToken ct = default) => Unary(request, ListAssessmentsResponse.Parser, ct);

    public Task<CloseAssessmentResponse> CloseAssessmentAsync(CloseAssessmentRequest request, CancellationToken ct = default) => Unary(request, CloseAssessmentResponse.Parser, ct);

    public Task<PublishScoresResponse> PublishScoresAsync(PublishScoresRequest request, CancellationToken ct = default) => Unary(request, PublishScoresResponse.Parser, ct);

    /// <summary>Starts a bulk submission: write the header, then rows; the service stores all or nothing when the request ends.</summary>
    public Task<ClientCall<SubmitResponsesRequest, SubmitResponsesResponse>> SubmitResponsesAsync(CancellationToken ct) =>
        ClientStreaming(SubmitResponsesRequest.Parser, SubmitResponsesResponse.Parser, ct);

    public Task<GetHeatmapResponse> GetHeatmapAsync(GetHeatmapRequest request, CancellationToken ct = default) => Unary(request, GetHeatmapResponse.Parser, ct);

    public Task<SetBaselineResponse> SetBaselineAsync(SetBaselineRequest request, CancellationToken ct = default) => Unary(request, SetBaselineResponse.Parser, ct);

    public Task<ListBaselinesResponse> ListBaselinesAsync(ListBaselinesRequest request, CancellationToken ct = default) => Unary(request, ListBaselinesResponse.Parser, ct);

    public Task<Transformation.Audit.V1.ListAuditEntriesResponse> ListAuditEntriesAsync(Transformation.Audit.V1.ListAuditEntriesRequest request, CancellationToken ct = default) =>
        Unary(request, Transformation.Audit.V1.ListAuditEntriesResponse.Parser, ct);
}

public sealed class InitiativesClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.Initiatives, InitiativesReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "Initiatives";

    public Task<ListInitiativesResponse> ListInitiativesAsync(ListInitiativesRequest request, CancellationToken ct = default) => Unary(request, ListInitiativesResponse.Parser, ct);

    public Task<GetInitiativeResponse> GetInitiativeAsync(GetInitiativeRequest request, CancellationToken ct = default) => Unary(request, GetInitiativeResponse.Parser, ct);

    public Task<UpdateInitiativeResponse> UpdateInitiativeAsync(UpdateInitiativeRequest request, CancellationToken ct = default) => Unary(request, UpdateInitiativeResponse.Parser, ct);

    public Task<SponsorInitiativeResponse> SponsorInitiativeAsync(SponsorInitiativeRequest request, CancellationToken ct = default) => Unary(request, SponsorInitiativeResponse.Parser, ct);

    public Task<ActivateInitiativeResponse> ActivateInitiativeAsync(ActivateInitiativeRequest request, CancellationToken ct = default) => Unary(request, ActivateInitiativeResponse.Parser, ct);

    public Task<RecordObservationResponse> RecordObservationAsync(RecordObservationRequest request, CancellationToken ct = default) => Unary(request, RecordObservationResponse.Parser, ct);

    /// <summary>Starts a batch of observations: all or nothing when the request ends.</summary>
    public Task<ClientCall<RecordObservationsRequest, RecordObservationsResponse>> RecordObservationsAsync(CancellationToken ct) =>
        ClientStreaming(RecordObservationsRequest.Parser, RecordObservationsResponse.Parser, ct);

    public Task<ListObservationsResponse> ListObservationsAsync(ListObservationsRequest request, CancellationToken ct = default) => Unary(request, ListObservationsResponse.Parser, ct);

    public Task<DraftSuccessStoryResponse> DraftSuccessStoryAsync(DraftSuccessStoryRequest request, CancellationToken ct = default) => Unary(request, DraftSuccessStoryResponse.Parser, ct);

    public Task<SubmitSuccessStoryResponse> SubmitSuccessStoryAsync(SubmitSuccessStoryRequest request, CancellationToken ct = default) => Unary(request, SubmitSuccessStoryResponse.Parser, ct);

    public Task<PublishSuccessStoryResponse> PublishSuccessStoryAsync(PublishSuccessStoryRequest request, CancellationToken ct = default) => Unary(request, PublishSuccessStoryResponse.Parser, ct);

    public Task<GetSuccessStoryResponse> GetSuccessStoryAsync(GetSuccessStoryRequest request, CancellationToken ct = default) => Unary(request, GetSuccessStoryResponse.Parser, ct);

    public Task<ListSuccessStoriesResponse> ListSuccessStoriesAsync(ListSuccessStoriesRequest request, CancellationToken ct = default) => Unary(request, ListSuccessStoriesResponse.Parser, ct);

    public Task<ReactToSuccessStoryResponse> ReactToSuccessStoryAsync(ReactToSuccessStoryRequest request, CancellationToken ct = default) => Unary(request, ReactToSuccessStoryResponse.Parser, ct);

    public Task<Transformation.Audit.V1.ListAuditEntriesResponse> ListAuditEntriesAsync(Transformation.Audit.V1.ListAuditEntriesRequest request, CancellationToken ct = default) =>
        Unary(request, Transformation.Audit.V1.ListAuditEntriesResponse.Parser, ct);
}

public sealed class EndStateClient(ServiceChannels channels, SignedInPerson person, IOptions<PortalOptions> options)
    : ServiceClient(channels.EndState, EndstateReflection.Descriptor.Services[0], person, options)
{
    public const string Name = "End state";

    public Task<GetEndStateResponse> GetEndStateAsync(GetEndStateRequest request, CancellationToken ct = default) => Unary(request, GetEndStateResponse.Parser, ct);

    public Task<ListEndStatesResponse> ListEndStatesAsync(ListEndStatesRequest request, CancellationToken ct = default) => Unary(request, ListEndStatesResponse.Parser, ct);

    public Task<EndorseEndStateResponse> EndorseEndStateAsync(EndorseEndStateRequest request, CancellationToken ct = default) => Unary(request, EndorseEndStateResponse.Parser, ct);

    public Task<DeclineEndStateResponse> DeclineEndStateAsync(DeclineEndStateRequest request, CancellationToken ct = default) => Unary(request, DeclineEndStateResponse.Parser, ct);

    public Task<GetGapResponse> GetGapAsync(GetGapRequest request, CancellationToken ct = default) => Unary(request, GetGapResponse.Parser, ct);

    public Task<EndState.V1.ListAuditEntriesResponse> ListAuditEntriesAsync(EndState.V1.ListAuditEntriesRequest request, CancellationToken ct = default) => Unary(request, EndState.V1.ListAuditEntriesResponse.Parser, ct);
}
