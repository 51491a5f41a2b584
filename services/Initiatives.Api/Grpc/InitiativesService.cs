using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Audit.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Initiatives.Api.Grains;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Initiatives.Api.Grpc;

/// <summary>The gRPC surface: validates, checks ownership, calls the grains and stores, maps. Role checks are in the access map.</summary>
public sealed class InitiativesService(InitiativesDatabase database, Outbox outbox, ObservationWriter observations, IGrainFactory grains, TimeProvider time) : InitiativeService.InitiativeServiceBase
{
    private const int MaxPage = 500;
    private const string StoryEntity = "success_story";
    private static readonly JsonSerializerOptions StateJson = new(JsonSerializerDefaults.Web);

    // ---- Initiatives ----

    public override async Task<ProposeInitiativeResponse> ProposeInitiative(ProposeInitiativeRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = Model.Initiatives.Validate(request.Initiative);
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        var draft = request.Initiative;
        var changeManager = draft.ChangeManagerId.Length > 0 ? draft.ChangeManagerId : caller.Subject;
        if (caller.IsInRole(Roles.ChangeManager) && !caller.IsInRole(Roles.Hr) && !string.Equals(changeManager, caller.Subject, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "A change manager proposes initiatives they manage."));
        }

        await ValidateReferencesAsync(draft.TargetBehaviourIds, draft.ScopeOrgUnitIds, draft.SponsorId, changeManager, violations, context.CancellationToken);
        ThrowIfAny(violations);
        var id = InitiativeId(caller.Subject, request.IdempotencyKey);
        var state = await grains.GetGrain<IInitiativeGrain>(id).ProposeAsync(new Command(caller, request.IdempotencyKey), InitiativeDefinition.From(draft), changeManager);
        return new ProposeInitiativeResponse { Initiative = state.ToProto(time.GetUtcNow()) };
    }

    public override async Task<SponsorInitiativeResponse> SponsorInitiative(SponsorInitiativeRequest request, ServerCallContext context) =>
        new() { Initiative = await Lifecycle(request.IdempotencyKey, request.InitiativeId, context, (grain, command) => grain.SponsorAsync(command)) };

    public override async Task<ActivateInitiativeResponse> ActivateInitiative(ActivateInitiativeRequest request, ServerCallContext context) =>
        new() { Initiative = await Lifecycle(request.IdempotencyKey, request.InitiativeId, context, (grain, command) => grain.ActivateAsync(command)) };

    public override async Task<CompleteInitiativeResponse> CompleteInitiative(CompleteInitiativeRequest request, ServerCallContext context) =>
        new() { Initiative = await Lifecycle(request.IdempotencyKey, request.InitiativeId, context, (grain, command) => grain.CompleteAsync(command)) };

    public override async Task<CancelInitiativeResponse> CancelInitiative(CancelInitiativeRequest request, ServerCallContext context) =>
        new() { Initiative = await Lifecycle(request.IdempotencyKey, request.InitiativeId, context, (grain, command) => grain.CancelAsync(command)) };

    /// <summary>Retired: nobody types a survey score. Kept on the surface so that an old client learns why (not UNIMPLEMENTED).</summary>
    public override Task<SetSurveyScoreResponse> SetSurveyScore(SetSurveyScoreRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.FailedPrecondition,
            "Survey scores are not typed in: a survey-score goal reads the score of its dimension for the initiative's scope from the latest "
            + "assessment published in Baselines. Close and publish the assessment there."));

    /// <summary>
    /// The initiative's change manager (only: hr and executives do not edit another's initiative) replaces its editable
    /// definition while it is proposed, sponsored or active. Validated as a proposal; a retry with the key returns the first result.
    /// </summary>
    public override async Task<UpdateInitiativeResponse> UpdateInitiative(UpdateInitiativeRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = Model.Initiatives.Validate(request.Initiative);
        RequireKey(request.IdempotencyKey, violations);
        if (string.IsNullOrWhiteSpace(request.InitiativeId))
        {
            violations.Add(("initiative_id", "The initiative is required."));
        }

        ThrowIfAny(violations);
        var grain = grains.GetGrain<IInitiativeGrain>(request.InitiativeId);
        var current = await grain.GetAsync();
        if (!current.Exists || !CanSee(current, caller))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }

        if (!Model.Initiatives.IsManager(current, caller))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's change manager edits it."));
        }

        var changes = request.Initiative;
        await ValidateReferencesAsync(changes.TargetBehaviourIds, changes.ScopeOrgUnitIds, null, null, violations, context.CancellationToken);
        ThrowIfAny(violations);
        var fingerprint = Convert.ToHexString(SHA256.HashData(changes.ToByteArray()), 0, 16);
        var state = await grain.UpdateAsync(new Command(caller, request.IdempotencyKey), InitiativeDefinition.From(changes), fingerprint);
        return new UpdateInitiativeResponse { Initiative = state.ToProto(time.GetUtcNow()) };
    }

    public override async Task<GetInitiativeResponse> GetInitiative(GetInitiativeRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        if (string.IsNullOrWhiteSpace(request.InitiativeId))
        {
            throw RpcErrors.InvalidArgument("The initiative id is required.", ("initiative_id", "Required."));
        }

        var state = await grains.GetGrain<IInitiativeGrain>(request.InitiativeId).GetAsync();
        if (!state.Exists || !CanSee(state, caller))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }

        return new GetInitiativeResponse { Initiative = state.ToProto(time.GetUtcNow()) };
    }

    /// <summary>The executive portfolio: every initiative with status, progress and sponsor, from the grains' checkpointed states.</summary>
    public override async Task<ListInitiativesResponse> ListInitiatives(ListInitiativesRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var listing = InitiativeAccess.Listing(caller, request.ReachingMe);
        if (listing == InitiativeListing.Denied)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Employees list the initiatives that reach their own unit (reaching_me)."));
        }

        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        await using var command = connection.Command(null, """
            WITH RECURSIVE mine(id, depth) AS (
                SELECT org_unit_id, 0 FROM employees WHERE employee_id = $3 AND active
                UNION ALL
                SELECT u.parent_id, m.depth + 1 FROM mine m JOIN org_units u ON u.org_unit_id = m.id WHERE u.parent_id <> '' AND m.depth < 64)
            SELECT state::text FROM actor_state WHERE actor_type = 'initiative' AND ($1 = 0 OR (state->>'status')::int = $1)
              AND CASE $2
                WHEN 0 THEN true
                WHEN 1 THEN state->>'changeManagerId' = $3
                ELSE (state->>'status')::int IN (3, 4) AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(state->'scope') s WHERE s IN (SELECT id FROM mine))
              END
            ORDER BY state->>'proposedAt'
            """, (int)request.Status, (int)listing, caller.Subject);
        var response = new ListInitiativesResponse();
        var now = time.GetUtcNow();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            response.Initiatives.Add(JsonSerializer.Deserialize<InitiativeState>(reader.GetString(0), StateJson)!.ToProto(now));
        }

        return response;
    }

    // ---- Observations ----

    public override async Task<RecordObservationResponse> RecordObservation(RecordObservationRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string Field, string Description)>();
        Observations.ValidateShape(request.Observation, "observation.", caller, time.GetUtcNow(), violations);
        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        await using var batch = await observations.BeginAsync(caller, ct);
        var ids = await batch.WriteAsync([request.Observation], _ => "observation.", ct);
        await batch.CommitAsync(ct);
        return new RecordObservationResponse { ObservationId = ids[0], Created = batch.Created == 1 };
    }

    public override async Task<ReportConcernResponse> ReportConcern(ReportConcernRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string Field, string Description)>();
        var observation = Observations.Concern(request, caller, time.GetUtcNow(), violations);
        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        await using var batch = await observations.BeginAsync(caller, ct);
        var ids = await batch.WriteAsync([observation!], _ => "", ct, Observations.ConcernViolation);
        await batch.CommitAsync(ct);
        return new ReportConcernResponse { ObservationId = ids[0], Created = batch.Created == 1 };
    }

    /// <summary>All or nothing per call: items are validated as they arrive and written in chunks inside one transaction, committed at the end.</summary>
    public override async Task<RecordObservationsResponse> RecordObservations(IAsyncStreamReader<RecordObservationsRequest> requestStream, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        var now = time.GetUtcNow();
        await using var batch = await observations.BeginAsync(caller, ct);
        var response = new RecordObservationsResponse();
        var chunk = new List<ObservationInput>(ObservationWriter.ChunkSize);
        var index = 0;
        var violations = new List<(string Field, string Description)>();
        await foreach (var request in requestStream.ReadAllAsync(ct))
        {
            Observations.ValidateShape(request.Observation, $"observations[{index}].", caller, now, violations);
            ThrowIfAny(violations);
            chunk.Add(request.Observation);
            index++;
            if (chunk.Count == ObservationWriter.ChunkSize)
            {
                await WriteChunk();
            }
        }

        await WriteChunk();
        await batch.CommitAsync(ct);
        response.Created = batch.Created;
        response.Duplicates = batch.Duplicates;
        return response;

        async Task WriteChunk()
        {
            if (chunk.Count == 0)
            {
                return;
            }

            var offset = index - chunk.Count;
            response.ObservationIds.AddRange(await batch.WriteAsync(chunk, i => $"observations[{offset + i}].", ct));
            chunk.Clear();
        }
    }

    public override async Task<ListObservationsResponse> ListObservations(ListObservationsRequest request, ServerCallContext context)
    {
        var violations = new List<(string Field, string Description)>();
        long before = 0;
        if (request.PageToken.Length > 0 && (!long.TryParse(request.PageToken, System.Globalization.CultureInfo.InvariantCulture, out before) || before <= 0))
        {
            violations.Add(("page_token", "Use a next_page_token returned earlier."));
        }

        if (request.Search.Length > 200)
        {
            violations.Add(("search", "At most 200 characters."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        return await ObservationQueries.ListAsync(connection, ObservationAccess.For(context.Caller()), request, before,
            PageSize(request.PageSize, 100), ct);
    }

    // ---- Success stories ----

    public override async Task<DraftSuccessStoryResponse> DraftSuccessStory(DraftSuccessStoryRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string Field, string Description)>();
        RequireKey(request.IdempotencyKey, violations);
        if (string.IsNullOrWhiteSpace(request.Title) || request.Title.Length > Model.Initiatives.MaxNameLength)
        {
            violations.Add(("title", $"A title of 1 to {Model.Initiatives.MaxNameLength} characters is required."));
        }

        if (string.IsNullOrWhiteSpace(request.Body))
        {
            violations.Add(("body", "The story is required."));
        }

        if (string.IsNullOrWhiteSpace(request.InitiativeId))
        {
            violations.Add(("initiative_id", "The initiative is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        var initiative = await grains.GetGrain<IInitiativeGrain>(request.InitiativeId).GetAsync();
        if (!initiative.Exists)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }

        if (!Model.Initiatives.IsManager(initiative, caller))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's change manager drafts its stories."));
        }

        await using var connection = await database.OpenAsync(ct);
        var citable = await ObservationQueries.CitableAsync(connection, ObservationAccess.For(caller), request.InitiativeId, request.ObservationIds, ct);
        for (var i = 0; i < request.ObservationIds.Count; i++)
        {
            if (!citable.Contains(request.ObservationIds[i]))
            {
                violations.Add(($"observation_ids[{i}]", $"'{request.ObservationIds[i]}' is not an observation of this initiative that you may cite."));
            }
        }

        ThrowIfAny(violations);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await StoryStore.FindByKeyAsync(connection, transaction, caller.Subject, request.IdempotencyKey, ct) is { } existing)
        {
            return new DraftSuccessStoryResponse { Story = (await StoryStore.GetAsync(connection, transaction, existing, false, ct))!.Value.Story };
        }

        var story = new SuccessStory
        {
            StoryId = Guid.CreateVersion7().ToString(),
            InitiativeId = request.InitiativeId,
            Title = request.Title.Trim(),
            Body = request.Body.Trim(),
            AuthorId = caller.Subject,
            Status = StoryStatus.Draft,
            Evidence = await EvidenceAsync(connection, transaction, initiative, request.ObservationIds, ct),
        };
        if (!await StoryStore.InsertAsync(connection, transaction, Guid.Parse(story.StoryId), request.IdempotencyKey, story, request.ObservationIds, ct))
        {
            // A concurrent retry with the same key committed first: answer with its story.
            await transaction.RollbackAsync(ct);
            var first = await StoryStore.FindByKeyAsync(connection, null!, caller.Subject, request.IdempotencyKey, ct);
            return new DraftSuccessStoryResponse { Story = (await StoryStore.GetAsync(connection, null, first!.Value, false, ct))!.Value.Story };
        }

        await AuditLog.AppendAsync(connection, transaction, StoryEntity, story.StoryId, caller.Subject, null, JsonFormatter.Default.Format(story), ct);

        await transaction.CommitAsync(ct);
        return new DraftSuccessStoryResponse { Story = story };
    }

    public override async Task<SubmitSuccessStoryResponse> SubmitSuccessStory(SubmitSuccessStoryRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var story = await ChangeStoryAsync(request.IdempotencyKey, request.StoryId, context, (story, initiative) =>
        {
            if (!string.Equals(story.AuthorId, caller.Subject, StringComparison.Ordinal))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the story's author submits it."));
            }

            return story.Status switch
            {
                StoryStatus.Draft => StoryStatus.Submitted,
                StoryStatus.Submitted => null,
                _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, "The story is published already.")),
            };
        });
        return new SubmitSuccessStoryResponse { Story = story };
    }

    /// <summary>The initiative's sponsor, or hr, approves a submitted story: it is published (SuccessStoryPublished through the outbox).</summary>
    public override async Task<PublishSuccessStoryResponse> PublishSuccessStory(PublishSuccessStoryRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var story = await ChangeStoryAsync(request.IdempotencyKey, request.StoryId, context, (story, initiative) =>
        {
            if (!caller.IsInRole(Roles.Hr) && !string.Equals(initiative.SponsorId, caller.Subject, StringComparison.Ordinal))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the initiative's sponsor or hr publishes its stories."));
            }

            return story.Status switch
            {
                StoryStatus.Submitted => StoryStatus.Published,
                StoryStatus.Published => null,
                _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, "Only a submitted story is published.")),
            };
        }, caller.Subject);
        return new PublishSuccessStoryResponse { Story = story };
    }

    public override async Task<GetSuccessStoryResponse> GetSuccessStory(GetSuccessStoryRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var found = Guid.TryParse(request.StoryId, out var id) ? await StoryStore.GetAsync(connection, null, id, false, ct) : null;
        if (found is not { } pair)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such story."));
        }

        if (pair.Story.Status != StoryStatus.Published && !caller.IsInAnyRole(Roles.Hr, Roles.Executive) &&
            !string.Equals(pair.Story.AuthorId, caller.Subject, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such story."));
        }

        return new GetSuccessStoryResponse { Story = pair.Story };
    }

    public override async Task<ListSuccessStoriesResponse> ListSuccessStories(ListSuccessStoriesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var limit = PageSize(request.PageSize, 50);
        if (request.Status is StoryStatus.Unspecified or StoryStatus.Published)
        {
            return new ListSuccessStoriesResponse { Stories = { await StoryStore.ListPublishedAsync(connection, request.InitiativeId, limit, ct) } };
        }

        // Unpublished stories: as GetSuccessStory shows them, every one to hr and executives, their own to their authors.
        var caller = context.Caller();
        var author = caller.IsInAnyRole(Roles.Hr, Roles.Executive) ? "" : caller.Subject;
        return new ListSuccessStoriesResponse { Stories = { await StoryStore.ListUnpublishedAsync(connection, request.Status, request.InitiativeId, author, limit, ct) } };
    }

    public override async Task<ReactToSuccessStoryResponse> ReactToSuccessStory(ReactToSuccessStoryRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        if (string.IsNullOrWhiteSpace(request.Reaction) || request.Reaction.Length > 32)
        {
            throw RpcErrors.InvalidArgument("The reaction is required.", ("reaction", "1 to 32 characters."));
        }

        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var found = Guid.TryParse(request.StoryId, out var id) ? await StoryStore.GetAsync(connection, null, id, false, ct) : null;
        if (found is not { } pair || pair.Story.Status != StoryStatus.Published)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such published story."));
        }

        return new ReactToSuccessStoryResponse { Reactions = await StoryStore.ReactAsync(connection, id, caller.Subject, request.Reaction, ct) };
    }

    // ---- Audit ----

    /// <summary>Changes to initiatives (appended with the grain's state) and stories, oldest first (hr and executives).</summary>
    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return await AuditLog.ListAsync(connection, request, context.CancellationToken);
    }

    // ---- Helpers ----

    /// <summary>Target behaviours must be current in the catalogue, org units open; the sponsor (when given) an active employee.</summary>
    private async Task ValidateReferencesAsync(RepeatedField<string> behaviourIds, RepeatedField<string> scope, string? sponsorId, string? changeManagerId,
        List<(string Field, string Description)> violations, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        string[] people = sponsorId is null ? [] : [sponsorId, changeManagerId ?? ""];
        var references = await LocalCopies.ResolveAsync(connection, null, behaviourIds, people, [], ct);
        for (var i = 0; i < behaviourIds.Count; i++)
        {
            if (!references.Behaviours.TryGetValue(behaviourIds[i], out var behaviour) || behaviour.Retired)
            {
                violations.Add(($"initiative.target_behaviour_ids[{i}]", $"'{behaviourIds[i]}' is not a current behaviour of the catalogue."));
            }
        }

        if (sponsorId is not null && (!references.Employees.TryGetValue(sponsorId, out var sponsor) || !sponsor.Active))
        {
            violations.Add(("initiative.sponsor_id", $"'{sponsorId}' is not an active employee."));
        }

        var units = await LocalCopies.KnownOrgUnitsAsync(connection, scope, ct);
        for (var i = 0; i < scope.Count; i++)
        {
            if (!units.Contains(scope[i]))
            {
                violations.Add(($"initiative.scope_org_unit_ids[{i}]", $"'{scope[i]}' is not an open org unit."));
            }
        }
    }

    private async Task<SuccessStory> ChangeStoryAsync(string key, string storyId, ServerCallContext context,
        Func<SuccessStory, InitiativeState, StoryStatus?> decide, string? approver = null)
    {
        var caller = context.Caller();
        var violations = new List<(string Field, string Description)>();
        RequireKey(key, violations);
        if (!Guid.TryParse(storyId, out var id))
        {
            violations.Add(("story_id", "A story id is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await StoryStore.GetAsync(connection, transaction, id, forUpdate: true, ct) is not { } pair)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such story."));
        }

        var initiative = await grains.GetGrain<IInitiativeGrain>(pair.Story.InitiativeId).GetAsync();
        var next = decide(pair.Story, initiative);
        if (next is null)
        {
            // Already there: a retry gets the story as it is.
            return pair.Story;
        }

        var story = pair.Story.Clone();
        story.Status = next.Value;
        story.Evidence = await EvidenceAsync(connection, transaction, initiative, pair.ObservationIds, ct);
        if (next == StoryStatus.Submitted)
        {
            var submitted = new SuccessStorySubmitted
            {
                StoryId = story.StoryId,
                InitiativeId = story.InitiativeId,
                Title = story.Title,
                AuthorId = story.AuthorId,
                SubmittedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            };
            if (!string.IsNullOrEmpty(initiative.SponsorId))
            {
                submitted.SponsorIds.Add(initiative.SponsorId);
            }

            await outbox.EnqueueAsync(connection, transaction, story.InitiativeId, submitted, ct);
        }

        if (next == StoryStatus.Published)
        {
            story.ApprovedBy = approver ?? "";
            story.PublishedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
            await outbox.EnqueueAsync(connection, transaction, story.InitiativeId, new SuccessStoryPublished
            {
                StoryId = story.StoryId,
                InitiativeId = story.InitiativeId,
                Title = story.Title,
                Body = story.Body,
                AuthorId = story.AuthorId,
                ApprovedBy = story.ApprovedBy,
                PublishedAt = story.PublishedAt,
            }, ct);
        }

        await StoryStore.UpdateAsync(connection, transaction, story, ct);
        await AuditLog.AppendAsync(connection, transaction, StoryEntity, story.StoryId, caller.Subject, JsonFormatter.Default.Format(pair.Story),
            JsonFormatter.Default.Format(story), ct);
        await transaction.CommitAsync(ct);
        return story;
    }

    /// <summary>The evidence the service attaches: the observations named, the rewards granted for them or the initiative, goal figures before and after.</summary>
    private async Task<StoryEvidence> EvidenceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, InitiativeState initiative,
        IEnumerable<string> observationIds, CancellationToken cancellationToken)
    {
        var ids = observationIds.ToList();
        var rewards = await StoryStore.RewardsAsync(connection, transaction, initiative.InitiativeId, ids, cancellationToken);
        var now = time.GetUtcNow();
        var evidence = new StoryEvidence
        {
            ObservationIds = { ids },
            Rewards = { rewards },
            TotalPoints = rewards.Sum(r => r.Points),
            Goals =
            {
                initiative.Goals.Select(g => g.Kind == GoalKind.SurveyScore
                    ? new GoalEvidence
                    {
                        // The published assessments are the evidence: the score when the initiative started and the latest.
                        GoalId = g.GoalId,
                        Kind = g.Kind,
                        Before = initiative.SurveyAtStart.GetValueOrDefault(g.GoalId)?.Score ?? 0,
                        After = initiative.Survey.GetValueOrDefault(g.GoalId)?.Score ?? 0,
                        Target = g.Target,
                        BeforeSurvey = Model.Initiatives.ToProto(initiative.SurveyAtStart.GetValueOrDefault(g.GoalId)),
                        AfterSurvey = Model.Initiatives.ToProto(initiative.Survey.GetValueOrDefault(g.GoalId)),
                    }
                    : new GoalEvidence
                    {
                        GoalId = g.GoalId,
                        Kind = g.Kind,
                        Before = initiative.Baseline.GetValueOrDefault(g.GoalId),
                        After = Model.Initiatives.GoalValue(initiative, g, now),
                        Target = g.Target,
                    }),
            },
        };
        return evidence;
    }

    private async Task<Initiative> Lifecycle(string key, string initiativeId, ServerCallContext context, Func<IInitiativeGrain, Command, Task<InitiativeState>> change)
    {
        var caller = context.Caller();
        var violations = new List<(string Field, string Description)>();
        RequireKey(key, violations);
        if (string.IsNullOrWhiteSpace(initiativeId))
        {
            violations.Add(("initiative_id", "The initiative is required."));
        }

        ThrowIfAny(violations);
        var state = await change(grains.GetGrain<IInitiativeGrain>(initiativeId), new Command(caller, key));
        return state.ToProto(time.GetUtcNow());
    }

    private static bool CanSee(InitiativeState state, Caller caller) =>
        caller.IsInAnyRole(Roles.Hr, Roles.Executive) || Model.Initiatives.IsManager(state, caller)
        || string.Equals(state.SponsorId, caller.Subject, StringComparison.Ordinal)
        || state.Status is InitiativeStatus.Active or InitiativeStatus.Completed;

    /// <summary>A deterministic id per (proposer, idempotency key): a retried proposal addresses the same grain.</summary>
    internal static string InitiativeId(string subject, string key) =>
        new Guid(SHA256.HashData(Encoding.UTF8.GetBytes(subject + "\n" + key)).AsSpan(0, 16)).ToString("n");

    /// <summary>The default for 0, the maximum for more than it (as AIP-158 asks); a negative size never gets here (InputLimits).</summary>
    private static int PageSize(int requested, int byDefault) => requested == 0 ? byDefault : Math.Min(requested, MaxPage);

    private static void RequireKey(string key, List<(string Field, string Description)> violations)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > Observations.MaxKeyLength)
        {
            violations.Add(("idempotency_key", $"An idempotency key of 1 to {Observations.MaxKeyLength} characters is required."));
        }
    }

    private static void ThrowIfAny(List<(string Field, string Description)> violations)
    {
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The request is not valid; nothing was stored.", violations);
        }
    }
}
