using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Transformation.Audit.V1;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.Api.Infrastructure;
using Transformation.Baselines.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Baselines.Api.Grpc;

/// <summary>The gRPC surface: validates, checks the caller, calls the model and the stores, maps.</summary>
public sealed partial class BaselineService(BaselinesDatabase database, Outbox outbox, ScoreCache scores, TimeProvider time, IOptions<BaselinesOptions> options,
    SurveySeal seal)
    : V1.BaselineService.BaselineServiceBase
{
    private readonly ConcurrentDictionary<string, Dictionary<string, long>> _invitedPerUnit = new(StringComparer.Ordinal);

    // ---- Dimensions and items ----

    public override async Task<DefineDimensionResponse> DefineDimension(DefineDimensionRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = ValidateFields(request.Fields);
        RequireKey(request.IdempotencyKey, violations);
        OptionalId(request.DimensionId, "dimension_id", violations);
        ThrowIfAny(violations);
        return await IdempotentAsync("DefineDimension", caller, request, DefineDimensionResponse.Parser, async (connection, transaction, ct) =>
        {
            var dimension = new Dimension
            {
                DimensionId = request.DimensionId.Length > 0 ? request.DimensionId : Guid.CreateVersion7().ToString("n"),
                Version = 1, Fields = request.Fields, ChangedBy = caller.Subject, ChangedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            };
            if (await InsertVersionAsync(connection, transaction, dimension, ct) == 0)
            {
                throw new RpcException(new Status(StatusCode.AlreadyExists, $"The dimension {dimension.DimensionId} exists already."));
            }

            await AuditAsync(connection, transaction, "dimension", dimension.DimensionId, caller, null, dimension, ct);
            await outbox.EnqueueAsync(connection, transaction, dimension.DimensionId, new DimensionDefined { Dimension = dimension }, ct);
            return new DefineDimensionResponse { Dimension = dimension };
        }, context.CancellationToken);
    }

    public override async Task<ReviseDimensionResponse> ReviseDimension(ReviseDimensionRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = ValidateFields(request.Fields);
        RequireKey(request.IdempotencyKey, violations);
        if (request.DimensionId.Length == 0)
        {
            violations.Add(("dimension_id", "The dimension id is required."));
        }

        if (request.ExpectedVersion <= 0)
        {
            violations.Add(("expected_version", "The version the change is based on is required."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("ReviseDimension", caller, request, ReviseDimensionResponse.Parser, async (connection, transaction, ct) =>
        {
            await using var current = connection.Command(transaction, "SELECT max(version) FROM dimension_versions WHERE dimension_id = $1", request.DimensionId);
            var version = await current.ExecuteScalarAsync(ct) is long v ? v : 0;
            if (version == 0)
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"No dimension {request.DimensionId}."));
            }

            if (version != request.ExpectedVersion)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The dimension is at version {version}, not {request.ExpectedVersion}."));
            }

            var dimension = new Dimension
            {
                DimensionId = request.DimensionId, Version = version + 1, Fields = request.Fields, ChangedBy = caller.Subject,
                ChangedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            };
            if (await InsertVersionAsync(connection, transaction, dimension, ct) == 0)
            {
                throw new RpcException(new Status(StatusCode.Aborted, "A concurrent revision won; retry with the new version."));
            }

            var previous = (await ReadDimensionsAsync(connection,
                "SELECT * FROM dimension_versions WHERE dimension_id = $1 ORDER BY version DESC OFFSET 1 LIMIT 1", request.DimensionId, ct, transaction)).Single();
            await AuditAsync(connection, transaction, "dimension", dimension.DimensionId, caller, previous, dimension, ct);
            await outbox.EnqueueAsync(connection, transaction, dimension.DimensionId, new DimensionRevised { Dimension = dimension, PreviousVersion = version }, ct);
            return new ReviseDimensionResponse { Dimension = dimension };
        }, context.CancellationToken);
    }

    public override async Task<ListDimensionsResponse> ListDimensions(ListDimensionsRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var response = new ListDimensionsResponse();
        response.Dimensions.AddRange(await ReadDimensionsAsync(connection,
            "SELECT DISTINCT ON (dimension_id) * FROM dimension_versions ORDER BY dimension_id, version DESC", null, ct));
        await using var command = connection.Command(null, "SELECT item_id, dimension_id, text, reverse_scored FROM items ORDER BY item_id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            response.Items.Add(new Item { ItemId = reader.GetString(0), DimensionId = reader.GetString(1), Text = reader.GetString(2), ReverseScored = reader.GetBoolean(3) });
        }

        return response;
    }

    public override async Task<GetDimensionHistoryResponse> GetDimensionHistory(GetDimensionHistoryRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var response = new GetDimensionHistoryResponse();
        response.Versions.AddRange(await ReadDimensionsAsync(connection,
            "SELECT * FROM dimension_versions WHERE dimension_id = $1 ORDER BY version", request.DimensionId, context.CancellationToken));
        return response.Versions.Count == 0 ? throw new RpcException(new Status(StatusCode.NotFound, $"No dimension {request.DimensionId}.")) : response;
    }

    public override async Task<DefineItemResponse> DefineItem(DefineItemRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        OptionalId(request.ItemId, "item_id", violations);
        if (request.DimensionId.Length == 0)
        {
            violations.Add(("dimension_id", "The dimension the item measures is required."));
        }

        if (request.Text.Trim().Length is 0 or > 500)
        {
            violations.Add(("text", "The item's statement, 1 to 500 characters, is required."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("DefineItem", caller, request, DefineItemResponse.Parser, async (connection, transaction, ct) =>
        {
            var item = new Item
            {
                ItemId = request.ItemId.Length > 0 ? request.ItemId : Guid.CreateVersion7().ToString("n"), DimensionId = request.DimensionId,
                Text = request.Text.Trim(), ReverseScored = request.ReverseScored,
            };
            var inserted = await connection.ExecuteAsync(transaction, """
                INSERT INTO items (item_id, dimension_id, text, reverse_scored)
                SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM dimension_versions WHERE dimension_id = $2) ON CONFLICT DO NOTHING
                """, ct, item.ItemId, item.DimensionId, item.Text, item.ReverseScored);
            if (inserted == 0)
            {
                throw RpcErrors.InvalidArgument("The item cannot be defined.", ("item_id", "Exists already, or the dimension does not exist."));
            }

            await AuditAsync(connection, transaction, "item", item.ItemId, caller, null, item, ct);
            await outbox.EnqueueAsync(connection, transaction, item.ItemId, new ItemDefined { Item = item }, ct);
            return new DefineItemResponse { Item = item };
        }, context.CancellationToken);
    }

    // ---- Assessments ----

    public override async Task<CreateAssessmentResponse> CreateAssessment(CreateAssessmentRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        ThrowIfAny(ValidateAssessment(request));
        return await IdempotentAsync("CreateAssessment", caller, request, CreateAssessmentResponse.Parser, async (connection, transaction, ct) =>
            new CreateAssessmentResponse { Assessment = await InsertAssessmentAsync(connection, transaction, caller, request, survey: false, excludeSubUnits: false, ct) },
            context.CancellationToken);
    }

    private static List<(string, string)> ValidateAssessment(CreateAssessmentRequest request)
    {
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        OptionalId(request.AssessmentId, "assessment_id", violations);
        if (request.Title.Trim().Length is 0 or > 200)
        {
            violations.Add(("title", "A title of 1 to 200 characters is required."));
        }

        if (request.Kind == AssessmentKind.Unspecified || !System.Enum.IsDefined(request.Kind))
        {
            violations.Add(("kind", "Baseline or pulse."));
        }

        if (request.OpensAt is null || request.ClosesAt is null || request.ClosesAt.ToDateTimeOffset() <= request.OpensAt.ToDateTimeOffset())
        {
            violations.Add(("closes_at", "The window needs opens_at before closes_at."));
        }

        if (request.PopulationOrgUnitIds.Count == 0)
        {
            violations.Add(("population_org_unit_ids", "At least one org unit."));
        }

        if (request.ItemIds.Count == 0 || request.ItemIds.Distinct(StringComparer.Ordinal).Count() != request.ItemIds.Count)
        {
            violations.Add(("item_ids", "At least one item, each once."));
        }

        return violations;
    }

    /// <summary>Creates a (valid) assessment with its items, its audit entry and its AssessmentOpened event: imported, or answered in the product.</summary>
    private async Task<Assessment> InsertAssessmentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller, CreateAssessmentRequest request,
        bool survey, bool excludeSubUnits, CancellationToken ct)
    {
        var tree = await scores.TreeAsync(connection, ct, transaction);
        var unknownUnit = request.PopulationOrgUnitIds.FirstOrDefault(u => !tree.Contains(u));
        if (unknownUnit is not null)
        {
            throw RpcErrors.InvalidArgument("Unknown org unit.", ("population_org_unit_ids", $"'{unknownUnit}' is not an org unit."));
        }

        var items = new Dictionary<string, (string Dimension, bool Reverse)>(StringComparer.Ordinal);
        await using (var command = connection.Command(transaction, "SELECT item_id, dimension_id, reverse_scored FROM items WHERE item_id = ANY($1)",
            (object)request.ItemIds.ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                items[reader.GetString(0)] = (reader.GetString(1), reader.GetBoolean(2));
            }
        }

        var unknownItem = request.ItemIds.Select((id, index) => (id, index)).FirstOrDefault(i => !items.ContainsKey(i.id));
        if (unknownItem.id is not null)
        {
            throw RpcErrors.InvalidArgument("Unknown item.", ($"item_ids[{unknownItem.index}]", $"'{unknownItem.id}' is not an item."));
        }

        var assessment = new Assessment
        {
            AssessmentId = request.AssessmentId.Length > 0 ? request.AssessmentId : Guid.CreateVersion7().ToString("n"), Title = request.Title.Trim(),
            Kind = request.Kind, OpensAt = request.OpensAt, ClosesAt = request.ClosesAt, Status = AssessmentStatus.Open,
            PopulationOrgUnitIds = { request.PopulationOrgUnitIds }, ItemIds = { request.ItemIds }, Survey = survey, ExcludeSubUnits = excludeSubUnits,
        };
        if (await connection.ExecuteAsync(transaction, """
            INSERT INTO assessments (assessment_id, title, kind, opens_at, closes_at, population, status, survey, exclude_sub_units)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING
            """, ct, assessment.AssessmentId, assessment.Title, (int)assessment.Kind, assessment.OpensAt!.ToDateTimeOffset(),
            assessment.ClosesAt!.ToDateTimeOffset(), request.PopulationOrgUnitIds.ToArray(), (int)AssessmentStatus.Open, survey, excludeSubUnits) == 0)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"The assessment {assessment.AssessmentId} exists already."));
        }

        await connection.ExecuteAsync(transaction, """
            INSERT INTO assessment_items (assessment_id, position, item_id, dimension_id, reverse_scored)
            SELECT $1, p.ordinality - 1, p.item, i.dimension_id, i.reverse_scored FROM unnest($2::text[]) WITH ORDINALITY AS p(item, ordinality)
            JOIN items i ON i.item_id = p.item
            """, ct, assessment.AssessmentId, request.ItemIds.ToArray());
        await AuditAsync(connection, transaction, "assessment", assessment.AssessmentId, caller, null, assessment, ct);
        await outbox.EnqueueAsync(connection, transaction, assessment.AssessmentId, new AssessmentOpened { Assessment = assessment }, ct);
        return assessment;
    }

    public override async Task<GetAssessmentResponse> GetAssessment(GetAssessmentRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new GetAssessmentResponse { Assessment = await LoadAssessmentAsync(connection, null, request.AssessmentId, context.CancellationToken) };
    }

    /// <summary>Every assessment (or those of one status), the latest to open first: one query, items in answer order.</summary>
    public override async Task<ListAssessmentsResponse> ListAssessments(ListAssessmentsRequest request, ServerCallContext context)
    {
        if (request.PageSize is < 0 or > 500)
        {
            throw RpcErrors.InvalidArgument("The page size is 0 (100) to 500.", ("page_size", "0 to 500."));
        }

        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        await using var command = connection.Command(null, """
            SELECT a.assessment_id, a.title, a.kind, a.opens_at, a.closes_at, a.population, a.status, a.published, a.respondents, a.survey, a.exclude_sub_units,
                   coalesce((SELECT array_agg(i.item_id ORDER BY i.position) FROM assessment_items i WHERE i.assessment_id = a.assessment_id), '{}')
            FROM assessments a WHERE ($1 = 0 OR a.status = $1) AND ($3 OR a.published) ORDER BY a.opens_at DESC, a.assessment_id LIMIT $2
            """, (int)request.Status, request.PageSize == 0 ? 100 : request.PageSize, Access.ListsEveryAssessment(context.Caller()));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var response = new ListAssessmentsResponse();
        while (await reader.ReadAsync(ct))
        {
            response.Assessments.Add(new Assessment
            {
                AssessmentId = reader.GetString(0), Title = reader.GetString(1), Kind = (AssessmentKind)reader.GetInt32(2),
                OpensAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(3)), ClosesAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(4)),
                PopulationOrgUnitIds = { reader.GetFieldValue<string[]>(5) }, Status = (AssessmentStatus)reader.GetInt32(6), Published = reader.GetBoolean(7),
                Respondents = reader.GetInt64(8), Survey = reader.GetBoolean(9), ExcludeSubUnits = reader.GetBoolean(10),
                ItemIds = { reader.GetFieldValue<string[]>(11) },
            });
        }

        return response;
    }

    public override async Task<CloseAssessmentResponse> CloseAssessment(CloseAssessmentRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        var closed = await IdempotentAsync("CloseAssessment", caller, request, CloseAssessmentResponse.Parser, async (connection, transaction, ct) =>
        {
            var assessment = await LoadAssessmentAsync(connection, transaction, request.AssessmentId, ct, forUpdate: true);
            if (assessment.Status == AssessmentStatus.Closed)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The assessment is closed already."));
            }

            var now = time.GetUtcNow();
            var before = assessment.Clone();
            if (assessment.Survey)
            {
                // The answers submitted in the product go through the CSV import's ingestion: the same responses, cells and comments.
                var tree = await scores.TreeAsync(connection, ct, transaction);
                var units = assessment.PopulationOrgUnitIds.SelectMany(tree.SelfAndDescendants).ToHashSet(StringComparer.Ordinal);
                var items = await LoadItemsAsync(connection, transaction, assessment.AssessmentId, ct);
                assessment.Respondents += await SurveyStore.IngestAsync(connection, transaction, seal, assessment.AssessmentId, items, units, ct);
            }

            // Closed early, the window ended now: what reads the assessment's date (a story's "measured on") must not see the planned end.
            var end = now < assessment.ClosesAt.ToDateTimeOffset() ? new DateTimeOffset(Math.Max(now.UtcTicks, assessment.OpensAt.ToDateTimeOffset().UtcTicks), TimeSpan.Zero) : assessment.ClosesAt.ToDateTimeOffset();
            end = end.AddTicks(-(end.UtcTicks % 10)); // PostgreSQL keeps microseconds: answer what a later read answers
            await connection.ExecuteAsync(transaction, "UPDATE assessments SET status = $2, closed_at = $3, closes_at = $4 WHERE assessment_id = $1", ct,
                assessment.AssessmentId, (int)AssessmentStatus.Closed, now, end);
            assessment.Status = AssessmentStatus.Closed;
            assessment.ClosesAt = Timestamp.FromDateTimeOffset(end);
            await AuditAsync(connection, transaction, "assessment", assessment.AssessmentId, caller, before, assessment, ct);
            await outbox.EnqueueAsync(connection, transaction, assessment.AssessmentId, new AssessmentClosed
            {
                AssessmentId = assessment.AssessmentId, ClosedAt = Timestamp.FromDateTimeOffset(now), Respondents = assessment.Respondents,
            }, ct);
            return new CloseAssessmentResponse { Assessment = assessment };
        }, context.CancellationToken);
        if (closed.Assessment.Survey)
        {
            await SurveyStore.VacuumAsync(database, context.CancellationToken);
        }

        return closed;
    }

    public override async Task<PublishScoresResponse> PublishScores(PublishScoresRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        return await IdempotentAsync("PublishScores", caller, request, PublishScoresResponse.Parser, async (connection, transaction, ct) =>
        {
            var assessment = await LoadAssessmentAsync(connection, transaction, request.AssessmentId, ct, forUpdate: true);
            if (assessment.Status != AssessmentStatus.Closed)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "Only a closed assessment's scores can be published."));
            }

            await connection.ExecuteAsync(transaction, "UPDATE assessments SET published = true WHERE assessment_id = $1", ct, assessment.AssessmentId);
            var before = assessment.Clone();
            assessment.Published = true;
            await AuditAsync(connection, transaction, "assessment", assessment.AssessmentId, caller, before, assessment, ct);
            // What other services may use: every dimension for each unit of the population with its descendants, suppressed as hr sees it.
            var tree = await scores.TreeAsync(connection, ct, transaction);
            var units = assessment.PopulationOrgUnitIds.SelectMany(tree.SelfAndDescendants).Distinct(StringComparer.Ordinal)
                .Select(unit => new GroupKey(unit, true, null, null, null)).ToList();
            await outbox.EnqueueAsync(connection, transaction, assessment.AssessmentId, new ScoresPublished
            {
                AssessmentId = assessment.AssessmentId,
                PublishedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
                Assessment = assessment,
                Scores = { await ScoresAsync(connection, assessment, [], units, "", ct) },
                MinimumGroupSize = scores.MinimumGroupSize,
            }, ct);
            return new PublishScoresResponse { Assessment = assessment };
        }, context.CancellationToken);
    }

    // ---- Responses ----

    public override async Task<SubmitResponsesResponse> SubmitResponses(IAsyncStreamReader<SubmitResponsesRequest> requestStream, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var enumerator = requestStream.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        if (!await enumerator.MoveNextAsync() || enumerator.Current.Header is not { AssessmentId.Length: > 0 } header)
        {
            throw RpcErrors.InvalidArgument("The first message must be the header.", ("header.assessment_id", "The assessment is required."));
        }

        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var assessment = await LoadAssessmentAsync(connection, transaction, header.AssessmentId, ct, forUpdate: true);
        if (assessment.Status != AssessmentStatus.Open)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "The assessment is closed: no more responses."));
        }

        if (assessment.Survey)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "The assessment is answered in the product: its responses are not imported."));
        }

        var items = await LoadItemsAsync(connection, transaction, assessment.AssessmentId, ct);
        var tree = await scores.TreeAsync(connection, ct, transaction);
        var units = assessment.PopulationOrgUnitIds.SelectMany(tree.SelfAndDescendants).ToHashSet(StringComparer.Ordinal);
        await using var ingestion = await ResponseIngestion.StartAsync(connection, transaction, assessment.AssessmentId, items, units, ct);
        foreach (var row in enumerator.Current.Rows)
        {
            await ingestion.AddAsync(row, ct);
        }

        while (await enumerator.MoveNextAsync())
        {
            foreach (var row in enumerator.Current.Rows)
            {
                await ingestion.AddAsync(row, ct);
            }
        }

        var response = await ingestion.CompleteAsync(ct);
        if (response.Accepted > 0)
        {
            // Who imported responses into which assessment (the responses themselves stay anonymous: only the count changes).
            var after = assessment.Clone();
            after.Respondents += response.Accepted;
            await AuditAsync(connection, transaction, "assessment", assessment.AssessmentId, caller, assessment, after, ct);
        }

        await transaction.CommitAsync(ct);
        return response;
    }

    // ---- Scores ----

    public override async Task<GetScoresResponse> GetScores(GetScoresRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        var filter = request.Filter ?? new AttributeFilter();
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadAssessmentAsync(connection, null, request.AssessmentId, ct);
        await RequireKnownUnitsAsync(connection, [("org_unit_id", request.OrgUnitId)], ct);
        if (!Access.CanReadAllScores(caller))
        {
            var tree = await scores.TreeAsync(connection, ct);
            if (!Access.EmployeeMayRead(assessment.Published, request.OrgUnitId, request.IncludeDescendants, filter, tree))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "Employees read the published organisation-level scores only."));
            }
        }

        var response = new GetScoresResponse { MinimumGroupSize = scores.MinimumGroupSize };
        var key = new GroupKey(request.OrgUnitId, request.IncludeDescendants, filter.TenureBand, filter.RoleLevel, filter.Location);
        response.Scores.AddRange(await ScoresAsync(connection, assessment, request.DimensionIds, [key], request.CompareToAssessmentId, ct));
        return response;
    }

    public override async Task<GetHeatmapResponse> GetHeatmap(GetHeatmapRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var filter = request.Filter ?? new AttributeFilter();
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadAssessmentAsync(connection, null, request.AssessmentId, ct);
        await RequireKnownUnitsAsync(connection, request.OrgUnitIds.Select((unit, i) => ($"org_unit_ids[{i}]", unit)), ct);
        var units = request.OrgUnitIds.Count > 0 ? request.OrgUnitIds.ToList()
            : (await scores.TreeAsync(connection, ct)) is var tree ? assessment.PopulationOrgUnitIds.SelectMany(tree.SelfAndDescendants).Distinct(StringComparer.Ordinal).ToList() : [];
        var dimensions = request.DimensionIds.Count > 0 ? request.DimensionIds.ToList()
            : (await LoadItemsAsync(connection, null, assessment.AssessmentId, ct)).DimensionIds.Distinct(StringComparer.Ordinal).ToList();
        var keys = units.Select(u => new GroupKey(u, request.IncludeDescendants, filter.TenureBand, filter.RoleLevel, filter.Location)).ToList();
        var response = new GetHeatmapResponse { MinimumGroupSize = scores.MinimumGroupSize, DimensionIds = { dimensions }, OrgUnitIds = { units } };
        response.Cells.AddRange(await ScoresAsync(connection, assessment, dimensions, keys, "", ct));
        return response;
    }

    public override async Task<GetDimensionScoresResponse> GetDimensionScores(GetDimensionScoresRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.ScopeOrgUnitId.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The scope is required.", ("scope_org_unit_id", "An org unit."));
        }

        await using var connection = await database.OpenAsync(ct);
        var tree = await scores.TreeAsync(connection, ct);
        var ancestors = tree.SelfAndAncestors(request.ScopeOrgUnitId).ToArray();
        var assessmentId = request.Assessment switch
        {
            "baseline" => await ScalarStringAsync(connection, """
                SELECT b.assessment_id FROM baselines b JOIN unnest($1::text[]) WITH ORDINALITY AS a(unit, depth) ON a.unit = b.scope_org_unit_id
                WHERE b.superseded_at IS NULL ORDER BY a.depth LIMIT 1
                """, ct, (object)ancestors),
            "latest" => await ScalarStringAsync(connection, """
                SELECT assessment_id FROM assessments WHERE status = $2 AND population && $1::text[] ORDER BY closed_at DESC LIMIT 1
                """, ct, ancestors, (int)AssessmentStatus.Closed),
            _ => request.Assessment,
        } ?? throw new RpcException(new Status(StatusCode.NotFound, $"No {request.Assessment} measurement for {request.ScopeOrgUnitId}."));
        var assessment = await LoadAssessmentAsync(connection, null, assessmentId, ct);
        var response = new GetDimensionScoresResponse { AssessmentId = assessment.AssessmentId, MeasuredAt = assessment.ClosesAt };
        response.Scores.AddRange(await ScoresAsync(connection, assessment, request.DimensionIds,
            [new GroupKey(request.ScopeOrgUnitId, true, null, null, null)], "", ct));
        return response;
    }

    // ---- Baselines ----

    public override async Task<SetBaselineResponse> SetBaseline(SetBaselineRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.ScopeOrgUnitId.Length == 0)
        {
            violations.Add(("scope_org_unit_id", "The scope is required."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("SetBaseline", caller, request, SetBaselineResponse.Parser, async (connection, transaction, ct) =>
        {
            var assessment = await LoadAssessmentAsync(connection, transaction, request.AssessmentId, ct);
            if (assessment.Status != AssessmentStatus.Closed)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "Only a closed assessment's results can be a baseline."));
            }

            await connection.ExecuteAsync(transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", ct, "baseline:" + request.ScopeOrgUnitId);
            var now = time.GetUtcNow();
            var current = (await ReadBaselinesAsync(connection, transaction, "superseded_at IS NULL AND scope_org_unit_id = $1", request.ScopeOrgUnitId, ct))
                .SingleOrDefault();
            await connection.ExecuteAsync(transaction, "UPDATE baselines SET superseded_at = $2 WHERE scope_org_unit_id = $1 AND superseded_at IS NULL", ct,
                request.ScopeOrgUnitId, now);
            var superseded = current?.AssessmentId ?? "";
            var baseline = new Baseline
            {
                ScopeOrgUnitId = request.ScopeOrgUnitId, AssessmentId = assessment.AssessmentId, SetBy = caller.Subject, SetAt = Timestamp.FromDateTimeOffset(now),
            };
            await connection.ExecuteAsync(transaction, "INSERT INTO baselines (scope_org_unit_id, assessment_id, set_by, set_at) VALUES ($1, $2, $3, $4)", ct,
                baseline.ScopeOrgUnitId, baseline.AssessmentId, baseline.SetBy, now);
            // The scope's baseline before (the one superseded, if any) and after.
            await AuditAsync(connection, transaction, "baseline", baseline.ScopeOrgUnitId, caller, current, baseline, ct);
            await outbox.EnqueueAsync(connection, transaction, baseline.ScopeOrgUnitId, new BaselineSet { Baseline = baseline, SupersededAssessmentId = superseded }, ct);
            return new SetBaselineResponse { Baseline = baseline };
        }, context.CancellationToken);
    }

    public override async Task<ListBaselinesResponse> ListBaselines(ListBaselinesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        return new ListBaselinesResponse { Baselines = { await ReadBaselinesAsync(connection, null, "$1 = '' OR scope_org_unit_id = $1", request.ScopeOrgUnitId, ct) } };
    }

    // ---- Audit ----

    /// <summary>Every change (hr and executives, by the access map), oldest first, a page at a time.</summary>
    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return await AuditLog.ListAsync(connection, request, context.CancellationToken);
    }
}
