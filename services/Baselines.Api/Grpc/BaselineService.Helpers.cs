using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Baselines.Api.Infrastructure;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.Api.Grpc;

public sealed partial class BaselineService
{
    private async Task<TResponse> IdempotentAsync<TRequest, TResponse>(string method, Caller caller, TRequest request, MessageParser<TResponse> parser,
        Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task<TResponse>> work, CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var scope = $"{method}:{caller.Subject}";
        var key = (string)request.Descriptor.FindFieldByName("idempotency_key").Accessor.GetValue(request);
        if (await Idempotency.ClaimAsync(connection, transaction, scope, key, request, parser, cancellationToken) is { } first)
        {
            return first;
        }

        var response = await work(connection, transaction, cancellationToken);
        await Idempotency.CompleteAsync(connection, transaction, scope, key, response, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return response;
    }

    private async Task<List<Score>> ScoresAsync(NpgsqlConnection connection, Assessment assessment, IEnumerable<string> dimensionIds, List<GroupKey> keys,
        string compareTo, CancellationToken ct)
    {
        if (assessment.Status != AssessmentStatus.Closed)
        {
            // Figures of an open assessment would change between queries: consecutive queries could isolate a late respondent.
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "Scores are reported once the assessment is closed."));
        }

        var tables = await scores.GetAsync(assessment.AssessmentId, ct);
        IReadOnlyDictionary<string, SuppressionTable>? previous = null;
        if (compareTo.Length > 0)
        {
            var earlier = await LoadAssessmentAsync(connection, null, compareTo, ct);
            previous = earlier.Status == AssessmentStatus.Closed ? await scores.GetAsync(earlier.AssessmentId, ct)
                : throw new RpcException(new Status(StatusCode.FailedPrecondition, "The assessment compared against is not closed."));
        }

        var dimensions = dimensionIds.ToList();
        if (dimensions.Count == 0)
        {
            dimensions = [.. (await LoadItemsAsync(connection, null, assessment.AssessmentId, ct)).DimensionIds.Distinct(StringComparer.Ordinal)];
        }

        var result = new List<Score>(dimensions.Count * keys.Count);
        foreach (var dimension in dimensions)
        {
            var table = tables.GetValueOrDefault(dimension);
            foreach (var key in keys)
            {
                var score = new Score { DimensionId = dimension, OrgUnitId = key.Unit, IncludeDescendants = key.Descendants };
                if (table?.Reportable(key) is not { } aggregate)
                {
                    score.Suppressed = true;
                    result.Add(score);
                    continue;
                }

                score.N = aggregate.N;
                score.Mean = aggregate.Mean;
                score.StandardDeviation = aggregate.StandardDeviation;
                score.FavourableShare = aggregate.FavourableShare;
                score.Distribution.AddRange(aggregate.Distribution);
                if (previous is not null)
                {
                    score.Change = new Change { AgainstAssessmentId = compareTo };
                    if (previous.GetValueOrDefault(dimension)?.Reportable(key) is { } before && Scoring.Welch(aggregate, before) is { } welch)
                    {
                        score.Change.Available = true;
                        score.Change.PreviousMean = before.Mean;
                        score.Change.Difference = welch.Difference;
                        score.Change.T = welch.T;
                        score.Change.DegreesOfFreedom = welch.DegreesOfFreedom;
                        score.Change.PValue = welch.PValue;
                        score.Change.Significant = welch.Significant;
                    }
                }

                result.Add(score);
            }
        }

        return result;
    }

    /// <summary>NOT_FOUND naming the field when a named org unit is not in the organisation (an empty id is the whole organisation).</summary>
    private async Task RequireKnownUnitsAsync(NpgsqlConnection connection, IEnumerable<(string Field, string Unit)> units, CancellationToken cancellationToken)
    {
        var named = units.Where(u => u.Unit.Length > 0).ToList();
        if (named.Count == 0)
        {
            return;
        }

        var tree = await scores.TreeAsync(connection, cancellationToken);
        if (named.FirstOrDefault(u => !tree.Contains(u.Unit)) is { Field: not null } unknown)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"{unknown.Field}: no org unit '{unknown.Unit}' in the organisation."));
        }
    }

    private static async Task<Assessment> LoadAssessmentAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string assessmentId,
        CancellationToken ct, bool forUpdate = false, bool forShare = false)
    {
        await using (var command = connection.Command(transaction, $"""
            SELECT title, kind, opens_at, closes_at, population, status, published, respondents, survey, exclude_sub_units FROM assessments WHERE assessment_id = $1
            {(forUpdate ? "FOR UPDATE" : forShare ? "FOR SHARE" : "")}
            """, assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"No assessment {assessmentId}."));
            }

            var assessment = new Assessment
            {
                AssessmentId = assessmentId, Title = reader.GetString(0), Kind = (AssessmentKind)reader.GetInt32(1),
                OpensAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(2)), ClosesAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(3)),
                PopulationOrgUnitIds = { reader.GetFieldValue<string[]>(4) }, Status = (AssessmentStatus)reader.GetInt32(5), Published = reader.GetBoolean(6),
                Respondents = reader.GetInt64(7), Survey = reader.GetBoolean(8), ExcludeSubUnits = reader.GetBoolean(9),
            };
            await reader.DisposeAsync();
            await using var items = connection.Command(transaction, "SELECT item_id FROM assessment_items WHERE assessment_id = $1 ORDER BY position", assessmentId);
            await using var itemReader = await items.ExecuteReaderAsync(ct);
            while (await itemReader.ReadAsync(ct))
            {
                assessment.ItemIds.Add(itemReader.GetString(0));
            }

            return assessment;
        }
    }

    private static async Task<AssessmentItems> LoadItemsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string assessmentId, CancellationToken ct)
    {
        var (dimensions, reverse) = (new List<string>(), new List<bool>());
        await using var command = connection.Command(transaction,
            "SELECT dimension_id, reverse_scored FROM assessment_items WHERE assessment_id = $1 ORDER BY position", assessmentId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            dimensions.Add(reader.GetString(0));
            reverse.Add(reader.GetBoolean(1));
        }

        return new AssessmentItems([.. dimensions], [.. reverse]);
    }

    private static async Task<string?> ScalarStringAsync(NpgsqlConnection connection, string sql, CancellationToken ct, params object?[] parameters)
    {
        await using var command = connection.Command(null, sql, parameters);
        return await command.ExecuteScalarAsync(ct) as string;
    }

    private static Task<int> InsertVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Dimension dimension, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO dimension_versions (dimension_id, version, name, description, facet, scope, changed_by, changed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
            """, ct, dimension.DimensionId, dimension.Version, dimension.Fields.Name, dimension.Fields.Description, (int)dimension.Fields.Facet,
            (int)dimension.Fields.Scope, dimension.ChangedBy, dimension.ChangedAt.ToDateTimeOffset());

    /// <summary>Appends the change's audit entry (the entity before and after as proto JSON) in the change's transaction.</summary>
    private static Task AuditAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string entity, string entityId, Caller caller, IMessage? before,
        IMessage after, CancellationToken ct) =>
        AuditLog.AppendAsync(connection, transaction, entity, entityId, caller.Subject, before is null ? null : JsonFormatter.Default.Format(before),
            JsonFormatter.Default.Format(after), ct);

    private static async Task<List<Baseline>> ReadBaselinesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string where, string scope,
        CancellationToken ct)
    {
        await using var command = connection.Command(transaction,
            $"SELECT scope_org_unit_id, assessment_id, set_by, set_at, superseded_at FROM baselines WHERE {where} ORDER BY set_at", Sql.Text(scope));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var baselines = new List<Baseline>();
        while (await reader.ReadAsync(ct))
        {
            baselines.Add(new Baseline
            {
                ScopeOrgUnitId = reader.GetString(0), AssessmentId = reader.GetString(1), SetBy = reader.GetString(2),
                SetAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(3)),
                SupersededAt = reader.IsDBNull(4) ? null : Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(4)),
            });
        }

        return baselines;
    }

    private static async Task<List<Dimension>> ReadDimensionsAsync(NpgsqlConnection connection, string sql, string? id, CancellationToken ct,
        NpgsqlTransaction? transaction = null)
    {
        await using var command = connection.Command(transaction, sql.Replace("*", "dimension_id, version, name, description, facet, scope, changed_by, changed_at",
            StringComparison.Ordinal), id is null ? [] : [id]);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<Dimension>();
        while (await reader.ReadAsync(ct))
        {
            result.Add(new Dimension
            {
                DimensionId = reader.GetString(0), Version = reader.GetInt64(1),
                Fields = new DimensionFields { Name = reader.GetString(2), Description = reader.GetString(3), Facet = (Facet)reader.GetInt32(4), Scope = (InteractionScope)reader.GetInt32(5) },
                ChangedBy = reader.GetString(6), ChangedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(7)),
            });
        }

        return result;
    }

    private static List<(string, string)> ValidateFields(DimensionFields? fields)
    {
        var violations = new List<(string, string)>();
        if (fields is null)
        {
            violations.Add(("fields", "The dimension's fields are required."));
            return violations;
        }

        if (fields.Name.Trim().Length is 0 or > 100)
        {
            violations.Add(("fields.name", "A name of 1 to 100 characters is required."));
        }

        if (fields.Description.Length > 2000)
        {
            violations.Add(("fields.description", "At most 2000 characters."));
        }

        if (fields.Facet == Facet.Unspecified || !System.Enum.IsDefined(fields.Facet))
        {
            violations.Add(("fields.facet", "Attitudes, experiences, traditions, beliefs or values."));
        }

        if (fields.Scope == InteractionScope.Unspecified || !System.Enum.IsDefined(fields.Scope))
        {
            violations.Add(("fields.scope", "Internal interaction, or with customers, partners and suppliers."));
        }

        return violations;
    }

    private static void OptionalId(string id, string field, List<(string, string)> violations)
    {
        if (id.Length > 0 && !IdPattern().IsMatch(id))
        {
            violations.Add((field, "Lower-case letters, digits and '-', at most 63 characters."));
        }
    }

    private static void RequireKey(string key, List<(string, string)> violations)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 200)
        {
            violations.Add(("idempotency_key", "An idempotency key of 1 to 200 characters is required."));
        }
    }

    private static void ThrowIfAny(List<(string Field, string Description)> violations)
    {
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The request is invalid.", violations);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.None, matchTimeoutMilliseconds: 100)]
    private static partial Regex IdPattern();
}
