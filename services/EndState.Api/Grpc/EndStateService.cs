using Google.Protobuf;
using Npgsql;
using Transformation.EndState.Api.Infrastructure;
using Transformation.EndState.Api.Model;
using Transformation.EndState.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.EndState.Api.Grpc;

/// <summary>Thin: validates, applies the workflow (Model) inside one transaction per scope, appends the version, the audit entry and the events.</summary>
public sealed class EndStateService(EndStateDatabase database, Outbox outbox, BaselinesClient baselines, TimeProvider time) : V1.EndStateService.EndStateServiceBase
{
    public override Task<DraftEndStateResponse> DraftEndState(DraftEndStateRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        Require(request.IdempotencyKey, request.ScopeOrgUnitId);
        Workflow.ValidateDraft(request.Draft);
        return ChangeAsync("DraftEndState", caller, request, DraftEndStateResponse.Parser, request.ScopeOrgUnitId,
            latest => Workflow.Draft(latest, request.ScopeOrgUnitId, request.ExpectedVersion, request.Draft, caller, time.GetUtcNow()),
            (_, next) => [new EndStateDrafted { EndState = next }],
            next => new DraftEndStateResponse { EndState = next }, context.CancellationToken);
    }

    public override Task<ProposeEndStateResponse> ProposeEndState(ProposeEndStateRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        Require(request.IdempotencyKey, request.ScopeOrgUnitId);
        return ChangeAsync("ProposeEndState", caller, request, ProposeEndStateResponse.Parser, request.ScopeOrgUnitId,
            latest => Workflow.Propose(latest, request.ExpectedVersion, caller, time.GetUtcNow()),
            (_, next) => [new EndStateProposed { EndState = next }],
            next => new ProposeEndStateResponse { EndState = next }, context.CancellationToken);
    }

    public override async Task<EndorseEndStateResponse> EndorseEndState(EndorseEndStateRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        Require(request.IdempotencyKey, request.ScopeOrgUnitId);
        long supersededVersion = 0;
        return await ChangeAsync("EndorseEndState", caller, request, EndorseEndStateResponse.Parser, request.ScopeOrgUnitId,
            latest => Workflow.Endorse(latest, request.Version, request.Comment, caller, time.GetUtcNow()),
            (endorsed, next) =>
            {
                if (next.Status != EndStateStatus.Endorsed)
                {
                    return [new EndStateEndorsementRecorded { EndState = next, Endorsement = next.Endorsements.Single(e => string.Equals(e.SponsorId, caller.Subject, StringComparison.Ordinal)) }];
                }

                supersededVersion = endorsed?.Version ?? 0;
                return [new EndStateEndorsed { EndState = next, SupersededVersion = supersededVersion }];
            },
            next => new EndorseEndStateResponse { EndState = next }, context.CancellationToken);
    }

    public override Task<DeclineEndStateResponse> DeclineEndState(DeclineEndStateRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        Require(request.IdempotencyKey, request.ScopeOrgUnitId);
        return ChangeAsync("DeclineEndState", caller, request, DeclineEndStateResponse.Parser, request.ScopeOrgUnitId,
            latest => Workflow.Decline(latest, request.Version, request.Reason, caller, time.GetUtcNow()),
            (_, next) => [new EndStateDeclined { EndState = next, Decline = next.Decline }],
            next => new DeclineEndStateResponse { EndState = next }, context.CancellationToken);
    }

    public override async Task<GetEndStateResponse> GetEndState(GetEndStateRequest request, ServerCallContext context)
    {
        RequireScope(request.ScopeOrgUnitId);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var latest = await EndStateStore.LatestAsync(connection, null, request.ScopeOrgUnitId, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"{request.ScopeOrgUnitId} has no end state."));
        return new GetEndStateResponse { Latest = latest, Endorsed = await EndStateStore.EndorsedAsync(connection, null, request.ScopeOrgUnitId, ct) };
    }

    public override async Task<GetEndStateInForceResponse> GetEndStateInForce(GetEndStateInForceRequest request, ServerCallContext context)
    {
        var scopes = request.ScopeOrgUnitIds;
        if (scopes.Count is 0 or > MaxScopeChain)
        {
            throw RpcErrors.InvalidArgument("The scopes are required.", ("scope_org_unit_ids", $"The unit and the units above it: 1 to {MaxScopeChain}."));
        }

        var blank = Enumerable.Range(0, scopes.Count).Where(i => scopes[i].Length == 0).Select(i => ($"scope_org_unit_ids[{i}]", "An org unit is required.")).ToList();
        if (blank.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The scopes are required.", blank);
        }

        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        foreach (var scope in scopes)
        {
            if (await EndStateStore.EndorsedAsync(connection, null, scope, ct) is { } endorsed)
            {
                return new GetEndStateInForceResponse
                {
                    InForce = new EndStateInForce
                    {
                        ScopeOrgUnitId = endorsed.ScopeOrgUnitId, Version = endorsed.Version, Vision = endorsed.Draft.Vision,
                        Targets = { endorsed.Draft.Targets }, SponsorIds = { endorsed.Draft.SponsorIds },
                    },
                };
            }
        }

        return new GetEndStateInForceResponse();
    }

    public override async Task<GetEndStateHistoryResponse> GetEndStateHistory(GetEndStateHistoryRequest request, ServerCallContext context)
    {
        RequireScope(request.ScopeOrgUnitId);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var history = await EndStateStore.HistoryAsync(connection, request.ScopeOrgUnitId, ct);
        Workflow.MarkSuperseded(history);
        return new GetEndStateHistoryResponse { Versions = { history } };
    }

    public override async Task<ListEndStatesResponse> ListEndStates(ListEndStatesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        return new ListEndStatesResponse { EndStates = { await EndStateStore.LatestOfEveryScopeAsync(connection, request.Status, ct) } };
    }

    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        return new ListAuditEntriesResponse { Entries = { await EndStateStore.AuditAsync(connection, request.ScopeOrgUnitId, ct) } };
    }

    public override async Task<GetGapResponse> GetGap(GetGapRequest request, ServerCallContext context)
    {
        RequireScope(request.ScopeOrgUnitId);
        var ct = context.CancellationToken;
        EndStateVersion endState;
        List<string> known;
        await using (var connection = await database.OpenAsync(ct))
        {
            endState = (request.Version == 0
                ? await EndStateStore.EndorsedAsync(connection, null, request.ScopeOrgUnitId, ct)
                : await EndStateStore.VersionAsync(connection, request.ScopeOrgUnitId, request.Version, ct))
                ?? throw new RpcException(new Status(StatusCode.NotFound, request.Version == 0
                    ? $"{request.ScopeOrgUnitId} has no endorsed end state; name a version to see a draft's gap."
                    : $"{request.ScopeOrgUnitId} has no version {request.Version}."));
            known = await KnownAssessmentsAsync(connection, ct);
        }

        var dimensions = endState.Draft.Targets.Select(t => t.DimensionId).ToList();
        var response = new GetGapResponse { Version = endState.Version, Status = endState.Status };
        if (dimensions.Count == 0)
        {
            return response;
        }

        var baseline = await baselines.ScoresAsync(endState.ScopeOrgUnitId, dimensions, "baseline", ct);
        var later = new List<Dictionary<string, Measurement>>();
        if (baseline is not null)
        {
            var baselineIds = baseline.Values.Select(m => m.AssessmentId).ToHashSet(StringComparer.Ordinal);
            foreach (var assessment in known.Where(a => !baselineIds.Contains(a)).Append("latest"))
            {
                if (await baselines.ScoresAsync(endState.ScopeOrgUnitId, dimensions, assessment, ct) is { } scores)
                {
                    later.Add(scores);
                }
            }
        }

        foreach (var target in endState.Draft.Targets)
        {
            response.Dimensions.Add(Gap.Compute(target, baseline?.GetValueOrDefault(target.DimensionId),
                later.Select(s => s.GetValueOrDefault(target.DimensionId)).OfType<Measurement>()));
        }

        return response;
    }

    private static async Task<List<string>> KnownAssessmentsAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = connection.Command(null, "SELECT assessment_id FROM assessments ORDER BY closed_at");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var ids = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>
    /// One write: claims the idempotency key, locks the scope, applies <paramref name="apply"/> to the latest version,
    /// appends the new version with its audit entry and events, and stores the response, all in one transaction.
    /// </summary>
    private async Task<TResponse> ChangeAsync<TRequest, TResponse>(string method, Caller caller, TRequest request, MessageParser<TResponse> parser, string scope,
        Func<EndStateVersion?, EndStateVersion> apply, Func<EndStateVersion?, EndStateVersion, IMessage[]> events, Func<EndStateVersion, TResponse> respond,
        CancellationToken ct)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var idempotencyScope = $"{method}:{caller.Subject}";
        var key = (string)request.Descriptor.FindFieldByName("idempotency_key").Accessor.GetValue(request);
        if (await Idempotency.ClaimAsync(connection, transaction, idempotencyScope, key, request, parser, ct) is { } first)
        {
            return first;
        }

        await EndStateStore.LockAsync(connection, transaction, scope, ct);
        var latest = await EndStateStore.LatestAsync(connection, transaction, scope, ct);
        var endorsed = await EndStateStore.EndorsedAsync(connection, transaction, scope, ct);
        var next = apply(latest);
        await EndStateStore.AppendAsync(connection, transaction, latest, next, ct);
        await outbox.EnqueueAsync(connection, transaction, [.. events(endorsed, next).Select(e => new OutgoingEvent(scope, e))], ct);
        var response = respond(next);
        await Idempotency.CompleteAsync(connection, transaction, idempotencyScope, key, response, ct);
        await transaction.CommitAsync(ct);
        return response;
    }

    private static void Require(string idempotencyKey, string scope)
    {
        var violations = new List<(string, string)>();
        if (idempotencyKey.Length is 0 or > 200)
        {
            violations.Add(("idempotency_key", "A key of 1 to 200 characters; a retry with the same key returns the first result."));
        }

        if (scope.Length == 0)
        {
            violations.Add(("scope_org_unit_id", "The scope: the organisation's root unit or an org unit."));
        }

        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The request is not valid.", [.. violations]);
        }
    }

    private const int MaxScopeChain = 50;

    private static void RequireScope(string scope)
    {
        if (scope.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The scope is required.", ("scope_org_unit_id", "The organisation's root unit or an org unit."));
        }
    }
}
