using Google.Protobuf;
using Npgsql;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// A survey's invitations, drafts and answers, kept apart so that nothing in the database joins a person to their answers:
/// <list type="bullet">
/// <item><c>invitations</c> (assessment, employee, unit at opening, answered): the "has answered" mark, the only place a person appears.</item>
/// <item><c>survey_answers</c>: a random key (gen_random_uuid, shared with nothing), the assessment, the unit (coarsened to one with at
/// least the minimum group of invitees), the answers and the comment. No person, no time, no sequence. A submission writes no audit
/// row, outbox event or idempotency record (each would carry the caller).</item>
/// <item><c>survey_drafts</c>: keyed by person, deleted in the submission's transaction, so no draft is left to compare with the answers.
/// Kept here rather than in the browser because "save and come back" must work from another device or session; the price is that a
/// draft is readable with its author until it is submitted (a draft is not a response: it is never scored).</item>
/// </list>
/// At close the answers go through <see cref="ResponseIngestion"/> (responses keyed by the hash of their random key, in that order;
/// cells; comments), the <c>survey_answers</c> rows are deleted and the marks rewritten in employee order, in the close's transaction;
/// then both tables are vacuumed. After that neither the values, nor PostgreSQL's system columns (xmin, ctid), nor the physical order
/// pair a mark with a response. Not hidden yet: while the survey is open, a submission's answers row and its mark are written by one
/// transaction (equal xmin, physical order following submissions), so an operator reading system columns during that window could
/// pair them; closing that gap needs answers not written one row per submission (a later increment).
/// </summary>
public static class SurveyStore
{
    /// <summary>Invites every active employee of <paramref name="units"/>; the number invited.</summary>
    public static Task<int> InviteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, IEnumerable<string> units,
        CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO invitations (assessment_id, employee_id, org_unit_id)
            SELECT $1, employee_id, org_unit_id FROM employees WHERE active AND org_unit_id = ANY($2) ORDER BY employee_id
            """, ct, assessmentId, Sql.TextArray(units));

    /// <summary>The caller's invitation (unit at opening, answered), locked for the caller's write; null when not invited.</summary>
    public static async Task<(string Unit, bool Answered)?> InvitationAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string assessmentId,
        string employeeId, CancellationToken ct)
    {
        await using var command = connection.Command(transaction, $"""
            SELECT org_unit_id, answered FROM invitations WHERE assessment_id = $1 AND employee_id = $2 {(transaction is null ? "" : "FOR UPDATE")}
            """, assessmentId, employeeId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetBoolean(1)) : null;
    }

    public static async Task<SurveyAnswers?> DraftAsync(NpgsqlConnection connection, string assessmentId, string employeeId, CancellationToken ct)
    {
        await using var command = connection.Command(null, "SELECT answers FROM survey_drafts WHERE assessment_id = $1 AND employee_id = $2", assessmentId, employeeId);
        return await command.ExecuteScalarAsync(ct) is byte[] bytes ? SurveyAnswers.Parser.ParseFrom(bytes) : null;
    }

    public static Task SaveDraftAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, string employeeId, SurveyAnswers answers,
        CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO survey_drafts (assessment_id, employee_id, answers) VALUES ($1, $2, $3)
            ON CONFLICT (assessment_id, employee_id) DO UPDATE SET answers = excluded.answers
            """, ct, assessmentId, employeeId, answers.ToByteArray());

    /// <summary>Marks the invitation answered, deletes the draft and stores the answers with nothing of the person (see the type's summary).</summary>
    public static async Task SubmitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, string employeeId, string unit,
        short[] answers, string comment, CancellationToken ct)
    {
        await connection.ExecuteAsync(transaction, "UPDATE invitations SET answered = true WHERE assessment_id = $1 AND employee_id = $2", ct, assessmentId, employeeId);
        await connection.ExecuteAsync(transaction, "DELETE FROM survey_drafts WHERE assessment_id = $1 AND employee_id = $2", ct, assessmentId, employeeId);
        await connection.ExecuteAsync(transaction, """
            INSERT INTO survey_answers (answer_id, assessment_id, org_unit_id, answers, comment) VALUES (gen_random_uuid(), $1, $2, $3, $4)
            """, ct, assessmentId, unit, answers, comment);
    }

    /// <summary>Invitees and those who answered, per unit of the invitees at opening.</summary>
    public static async Task<Dictionary<string, (long Invited, long Answered)>> CountsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        string assessmentId, CancellationToken ct)
    {
        await using var command = connection.Command(transaction, """
            SELECT org_unit_id, count(*), count(*) FILTER (WHERE answered) FROM invitations WHERE assessment_id = $1 GROUP BY org_unit_id
            """, assessmentId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var counts = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            counts[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }

        return counts;
    }

    /// <summary>The caller's invitations to open surveys, the latest to close last.</summary>
    public static async Task<List<MySurveySummary>> MySurveysAsync(NpgsqlConnection connection, string employeeId, CancellationToken ct)
    {
        await using var command = connection.Command(null, """
            SELECT a.assessment_id, a.title, a.kind, a.closes_at, i.answered,
                   EXISTS (SELECT 1 FROM survey_drafts d WHERE d.assessment_id = i.assessment_id AND d.employee_id = i.employee_id)
            FROM invitations i JOIN assessments a ON a.assessment_id = i.assessment_id
            WHERE i.employee_id = $1 AND a.status = $2 ORDER BY a.closes_at, a.assessment_id
            """, employeeId, (int)AssessmentStatus.Open);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var surveys = new List<MySurveySummary>();
        while (await reader.ReadAsync(ct))
        {
            surveys.Add(new MySurveySummary
            {
                AssessmentId = reader.GetString(0), Title = reader.GetString(1), Kind = (AssessmentKind)reader.GetInt32(2),
                ClosesAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(3)), Answered = reader.GetBoolean(4),
                HasDraft = reader.GetBoolean(5),
            });
        }

        return surveys;
    }

    /// <summary>
    /// At close: feeds every submitted answer through the CSV import's ingestion (each under a fresh random token), then deletes the
    /// answers and rewrites the marks in employee order, so that neither table keeps the order or transaction of the submissions.
    /// The number of responses accepted.
    /// </summary>
    public static async Task<long> IngestAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, AssessmentItems items,
        HashSet<string> units, CancellationToken ct)
    {
        var rows = new List<ResponseRow>();
        await using (var command = connection.Command(transaction,
            "SELECT org_unit_id, answers, comment FROM survey_answers WHERE assessment_id = $1 ORDER BY answer_id", assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add(new ResponseRow
                {
                    Line = rows.Count + 1, RespondentToken = Guid.NewGuid().ToString("n"), OrgUnitId = reader.GetString(0),
                    Answers = { reader.GetFieldValue<short[]>(1).Select(a => (int)a) }, Comment = reader.GetString(2),
                });
            }
        }

        long accepted = 0;
        if (rows.Count > 0)
        {
            await using var ingestion = await ResponseIngestion.StartAsync(connection, transaction, assessmentId, items, units, ct);
            foreach (var row in rows)
            {
                await ingestion.AddAsync(row, ct);
            }

            accepted = (await ingestion.CompleteAsync(ct)).Accepted;
        }

        await connection.ExecuteAsync(transaction, "DELETE FROM survey_answers WHERE assessment_id = $1", ct, assessmentId);
        await connection.ExecuteAsync(transaction, """
            WITH marks AS (DELETE FROM invitations WHERE assessment_id = $1 RETURNING assessment_id, employee_id, org_unit_id, answered)
            INSERT INTO invitations (assessment_id, employee_id, org_unit_id, answered) SELECT * FROM marks ORDER BY employee_id
            """, ct, assessmentId);
        return accepted;
    }

    /// <summary>After a close: removes the dead row versions the close left (the submissions' answers and marks), best effort.</summary>
    public static async Task VacuumAsync(BaselinesDatabase database, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(null, "VACUUM survey_answers, invitations, survey_drafts", ct);
    }
}
