using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.Api.Grpc;

/// <summary>
/// Pulses on a recurrence: hr sets or stops one; <see cref="Infrastructure.SurveyRecurrenceScheduler"/> opens each occurrence as its
/// own assessment when it falls due, once: the occurrence's row (recurrence, index) is unique and written in the opening's
/// transaction, under the recurrence's row lock, so restarts and replicas never open it twice.
/// </summary>
public sealed partial class BaselineService
{
    public override async Task<SetSurveyRecurrenceResponse> SetSurveyRecurrence(SetSurveyRecurrenceRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = Recurrences.Validate(request.Recurrence);
        RequireKey(request.IdempotencyKey, violations);
        if (request.Recurrence is { RecurrenceId.Length: > 0 } given)
        {
            OptionalId(given.RecurrenceId, "recurrence.recurrence_id", violations);
            if (given.RecurrenceId.Length > Recurrences.MaxIdLength)
            {
                violations.Add(("recurrence.recurrence_id", $"At most {Recurrences.MaxIdLength} characters (each occurrence's assessment id adds its number)."));
            }
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("SetSurveyRecurrence", caller, request, SetSurveyRecurrenceResponse.Parser, async (connection, transaction, ct) =>
        {
            var recurrence = request.Recurrence.Clone();
            recurrence.RecurrenceId = recurrence.RecurrenceId.Length > 0 ? recurrence.RecurrenceId : Guid.CreateVersion7().ToString("n")[..24];
            recurrence.Title = recurrence.Title.Trim();
            (recurrence.Stopped, recurrence.NextOpensAt) = (false, null);
            recurrence.AssessmentIds.Clear();
            await RequireKnownAsync(connection, transaction, recurrence, ct);

            var before = await LoadRecurrenceAsync(connection, transaction, recurrence.RecurrenceId, ct, forUpdate: true);
            if (before is not null && before.Recurrence.Stopped)
            {
                throw RpcErrors.WithDetails(StatusCode.FailedPrecondition, $"The recurrence \"{before.Recurrence.Title}\" is stopped; set a new one.",
                    Violation("recurrence.recurrence_id", "Stopped."));
            }

            // A replaced recurrence keeps its count: the occurrences opened stay, and the new calendar's first occurrence is the
            // next number (its own index 0 is the recurrence's occurrence first_occurrence).
            await connection.ExecuteAsync(transaction, """
                INSERT INTO survey_recurrences (recurrence_id, definition, set_by) VALUES ($1, $2, $3)
                ON CONFLICT (recurrence_id) DO UPDATE SET definition = excluded.definition, set_by = excluded.set_by,
                    first_occurrence = survey_recurrences.next_occurrence
                """, ct, recurrence.RecurrenceId, recurrence.ToByteArray(), caller.Subject);
            var after = (await LoadRecurrenceAsync(connection, transaction, recurrence.RecurrenceId, ct))!.Recurrence;
            await AuditAsync(connection, transaction, "recurrence", recurrence.RecurrenceId, caller, before?.Recurrence, after, ct);
            return new SetSurveyRecurrenceResponse { Recurrence = after };
        }, context.CancellationToken);
    }

    public override async Task<StopSurveyRecurrenceResponse> StopSurveyRecurrence(StopSurveyRecurrenceRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.RecurrenceId.Length == 0)
        {
            violations.Add(("recurrence_id", "The recurrence id is required."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("StopSurveyRecurrence", caller, request, StopSurveyRecurrenceResponse.Parser, async (connection, transaction, ct) =>
        {
            var before = await LoadRecurrenceAsync(connection, transaction, request.RecurrenceId, ct, forUpdate: true)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"No recurrence {request.RecurrenceId}."));
            await connection.ExecuteAsync(transaction, "UPDATE survey_recurrences SET stopped = true WHERE recurrence_id = $1", ct, request.RecurrenceId);
            var after = (await LoadRecurrenceAsync(connection, transaction, request.RecurrenceId, ct))!.Recurrence;
            await AuditAsync(connection, transaction, "recurrence", request.RecurrenceId, caller, before.Recurrence, after, ct);
            return new StopSurveyRecurrenceResponse { Recurrence = after };
        }, context.CancellationToken);
    }

    public override async Task<ListSurveyRecurrencesResponse> ListSurveyRecurrences(ListSurveyRecurrencesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var ids = new List<string>();
        await using (var command = connection.Command(null, "SELECT recurrence_id FROM survey_recurrences ORDER BY stopped, recurrence_id"))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetString(0));
            }
        }

        var response = new ListSurveyRecurrencesResponse();
        foreach (var id in ids)
        {
            response.Recurrences.Add((await LoadRecurrenceAsync(connection, null, id, ct))!.Recurrence);
        }

        return response;
    }

    /// <summary>
    /// Opens every recurrence's occurrence due at <see cref="TimeProvider.GetUtcNow"/>, each in its own transaction: the latest one
    /// due, unless it has closed already (occurrences missed while the service was down are skipped, not opened late). The number opened.
    /// </summary>
    internal async Task<int> OpenDueOccurrencesAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var candidates = new List<string>();
        await using (var command = connection.Command(null, "SELECT recurrence_id FROM survey_recurrences WHERE NOT stopped ORDER BY recurrence_id"))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                candidates.Add(reader.GetString(0));
            }
        }

        var opened = 0;
        foreach (var id in candidates)
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var loaded = await LoadRecurrenceAsync(connection, transaction, id, ct, forUpdate: true);
            var now = time.GetUtcNow();
            if (loaded is not { Recurrence.Stopped: false } || Recurrences.LatestDue(loaded.Recurrence, now) is not { } due
                || loaded.FirstOccurrence + due < loaded.NextOccurrence)
            {
                continue;
            }

            var recurrence = loaded.Recurrence;
            var (opens, closes) = (Recurrences.OpensAt(recurrence, due), Recurrences.ClosesAt(recurrence, due));
            var index = checked((int)(loaded.FirstOccurrence + due));
            var assessmentId = $"{recurrence.RecurrenceId}-{index + 1}";
            await connection.ExecuteAsync(transaction, "UPDATE survey_recurrences SET next_occurrence = $2 WHERE recurrence_id = $1", ct, id, index + 1);
            if (closes > now && await connection.ExecuteAsync(transaction, """
                    INSERT INTO survey_occurrences (recurrence_id, occurrence, assessment_id, opened_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                    """, ct, id, index, assessmentId, now) == 1)
            {
                await transaction.SaveAsync("occurrence", ct);
                try
                {
                    await OpenSurveyAsync(connection, transaction, new Caller($"recurrence:{id}", new HashSet<string>(StringComparer.Ordinal)), new CreateAssessmentRequest
                    {
                        AssessmentId = assessmentId, Title = $"{recurrence.Title} ({opens:d MMM yyyy})", Kind = AssessmentKind.Pulse,
                        OpensAt = Timestamp.FromDateTimeOffset(opens), ClosesAt = Timestamp.FromDateTimeOffset(closes),
                        PopulationOrgUnitIds = { recurrence.PopulationOrgUnitIds }, ItemIds = { recurrence.ItemIds },
                    }, recurrence.ExcludeSubUnits, recurrence.Reminders, ct);
                    opened++;
                }
                catch (RpcException e)
                {
                    // Nobody in the population any more, a unit or item gone, the id taken: this occurrence is skipped (and says why).
                    await transaction.RollbackAsync("occurrence", ct);
                    await connection.ExecuteAsync(transaction, "UPDATE survey_occurrences SET assessment_id = '', skipped = $3 WHERE recurrence_id = $1 AND occurrence = $2",
                        ct, id, index, e.Status.Detail);
                }
            }

            await transaction.CommitAsync(ct);
        }

        return opened;
    }

    /// <summary>A recurrence; the number of its next occurrence, and that of its calendar's first (non-zero once replaced).</summary>
    private sealed record LoadedRecurrence(SurveyRecurrence Recurrence, int NextOccurrence, int FirstOccurrence);

    private async Task<LoadedRecurrence?> LoadRecurrenceAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string id, CancellationToken ct,
        bool forUpdate = false)
    {
        await using var command = connection.Command(transaction, $$"""
            SELECT definition, stopped, next_occurrence, first_occurrence,
                   coalesce((SELECT array_agg(o.assessment_id ORDER BY o.occurrence) FROM survey_occurrences o WHERE o.recurrence_id = r.recurrence_id AND o.assessment_id <> ''), '{}')
            FROM survey_recurrences r WHERE recurrence_id = $1 {{(forUpdate ? "FOR UPDATE" : "")}}
            """, id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var recurrence = SurveyRecurrence.Parser.ParseFrom(reader.GetFieldValue<byte[]>(0));
        recurrence.Stopped = reader.GetBoolean(1);
        var (next, first) = (reader.GetInt32(2), reader.GetInt32(3));
        recurrence.AssessmentIds.Add(reader.GetFieldValue<string[]>(4));
        if (!recurrence.Stopped)
        {
            // The latest occurrence due if it is not opened yet (the scheduler is about to), else the first not opened.
            var due = Recurrences.LatestDue(recurrence, time.GetUtcNow()) ?? 0;
            recurrence.NextOpensAt = Timestamp.FromDateTimeOffset(Recurrences.OpensAt(recurrence, Math.Max(next - first, due)));
        }

        return new LoadedRecurrence(recurrence, next, first);
    }

    /// <summary>INVALID_ARGUMENT naming the first unit or item the service does not know.</summary>
    private async Task RequireKnownAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SurveyRecurrence recurrence, CancellationToken ct)
    {
        var tree = await scores.TreeAsync(connection, ct, transaction);
        var unknownUnit = recurrence.PopulationOrgUnitIds.Select((id, index) => (id, index)).FirstOrDefault(u => !tree.Contains(u.id));
        if (unknownUnit.id is not null)
        {
            throw RpcErrors.InvalidArgument("Unknown org unit.", ($"recurrence.population_org_unit_ids[{unknownUnit.index}]", $"'{unknownUnit.id}' is not an org unit."));
        }

        var known = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = connection.Command(transaction, "SELECT item_id FROM items WHERE item_id = ANY($1)", (object)recurrence.ItemIds.ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                known.Add(reader.GetString(0));
            }
        }

        var unknownItem = recurrence.ItemIds.Select((id, index) => (id, index)).FirstOrDefault(i => !known.Contains(i.id));
        if (unknownItem.id is not null)
        {
            throw RpcErrors.InvalidArgument("Unknown item.", ($"recurrence.item_ids[{unknownItem.index}]", $"'{unknownItem.id}' is not an item."));
        }
    }
}
