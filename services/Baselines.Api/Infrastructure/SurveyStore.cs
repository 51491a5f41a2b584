using Google.Protobuf;
using Npgsql;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// A survey's invitations, drafts and answers, kept so that nothing in the database joins a person to what they answered:
/// <list type="bullet">
/// <item><c>invitations</c> (assessment, employee, unit at opening, answered): the "has answered" mark, the only place a person appears.</item>
/// <item><c>survey_answers</c>: a random key (gen_random_uuid, shared with nothing), the assessment, the unit (coarsened to one with at
/// least the minimum group of invitees) and <c>sealed</c>: the answers and the comment sealed by <see cref="SurveySeal"/> (Data Protection,
/// a purpose per assessment, its key ring outside the database, padded to 1 KiB blocks). No person, no time, no sequence. A submission
/// writes no audit row, outbox event or idempotency record (each would carry the caller). The plaintext <c>answers</c> and
/// <c>comment</c> columns are read only for rows written before sealing existed.</item>
/// <item><c>survey_drafts</c>: keyed by person, sealed the same way, deleted in the submission's transaction. Kept here rather than in
/// the browser because "save and come back" must work from another device or session.</item>
/// </list>
/// What holds, against whom:
/// <list type="bullet">
/// <item>While the survey is open, against anyone reading the database (tables, system columns, audit rows, dead row versions, the WAL,
/// backups) but not the key ring: a submission's answers row and its mark are still written by one transaction (equal xmin, adjacent
/// physical order), so such a reader can tell which sealed row is whose, but not what it says: answers and comments are only ever
/// written sealed, and each seal is randomised (two equal answers seal differently). Its length tells only how many 1 KiB blocks the
/// comment takes (none beyond the first for comments up to some 900 bytes).</item>
/// <item>After close, against anyone reading the database: the answers are unsealed and go through <see cref="ResponseIngestion"/>
/// (responses keyed by the hash of a fresh random token, in that order; cells; comments); the sealed rows are deleted and the marks
/// rewritten in employee order, in the close's transaction; then both tables are vacuumed. Neither the values, nor PostgreSQL's system
/// columns (xmin, ctid), nor the physical order pair a mark with a response.</item>
/// <item>Not against an operator holding both the database and the key ring while the survey is open (or a copy of both from then):
/// they can unseal the row paired with a person. That trust remains; keep the key ring's storage apart from the database's and its
/// backups, and readable only by the service.</item>
/// </list>
/// </summary>
public static class SurveyStore
{
    /// <summary>Invites every active employee of <paramref name="units"/>; the ids invited.</summary>
    public static async Task<List<string>> InviteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId,
        IEnumerable<string> units, CancellationToken ct)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO invitations (assessment_id, employee_id, org_unit_id)
            SELECT $1, employee_id, org_unit_id FROM employees WHERE active AND org_unit_id = ANY($2) ORDER BY employee_id
            RETURNING employee_id
            """, assessmentId, Sql.TextArray(units));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var invited = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            invited.Add(reader.GetString(0));
        }

        return invited;
    }

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

    public static async Task<SurveyAnswers?> DraftAsync(NpgsqlConnection connection, SurveySeal seal, string assessmentId, string employeeId, CancellationToken ct)
    {
        await using var command = connection.Command(null, "SELECT answers, sealed FROM survey_drafts WHERE assessment_id = $1 AND employee_id = $2",
            assessmentId, employeeId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var bytes = reader.GetFieldValue<byte[]>(0);
        return SurveyAnswers.Parser.ParseFrom(reader.GetBoolean(1) ? seal.UnsealDraft(assessmentId, bytes) : bytes);
    }

    public static Task SaveDraftAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SurveySeal seal, string assessmentId, string employeeId,
        SurveyAnswers answers, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO survey_drafts (assessment_id, employee_id, answers, sealed) VALUES ($1, $2, $3, true)
            ON CONFLICT (assessment_id, employee_id) DO UPDATE SET answers = excluded.answers, sealed = true
            """, ct, assessmentId, employeeId, seal.SealDraft(assessmentId, answers.ToByteArray()));

    /// <summary>
    /// Marks the invitation answered, deletes the draft and stores the sealed answers with nothing of the person (see the type's
    /// summary), in the caller's transaction: committed before the reply.
    /// </summary>
    public static async Task SubmitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, string employeeId, string unit,
        byte[] sealedAnswers, CancellationToken ct)
    {
        await connection.ExecuteAsync(transaction, "UPDATE invitations SET answered = true WHERE assessment_id = $1 AND employee_id = $2", ct, assessmentId, employeeId);
        await connection.ExecuteAsync(transaction, "DELETE FROM survey_drafts WHERE assessment_id = $1 AND employee_id = $2", ct, assessmentId, employeeId);
        await connection.ExecuteAsync(transaction, """
            INSERT INTO survey_answers (answer_id, assessment_id, org_unit_id, sealed) VALUES (gen_random_uuid(), $1, $2, $3)
            """, ct, assessmentId, unit, sealedAnswers);
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
    /// At close: unseals every submitted answer and feeds it through the CSV import's ingestion (each under a fresh random token),
    /// then deletes the answers and rewrites the marks in employee order, so that neither table keeps the order or transaction of
    /// the submissions. The number of responses accepted; FAILED_PRECONDITION, nothing changed, when the key ring cannot unseal them.
    /// </summary>
    public static async Task<long> IngestAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SurveySeal seal, string assessmentId,
        AssessmentItems items, HashSet<string> units, CancellationToken ct)
    {
        var rows = new List<ResponseRow>();
        await using (var command = connection.Command(transaction,
            "SELECT org_unit_id, sealed, answers, comment FROM survey_answers WHERE assessment_id = $1 ORDER BY answer_id", assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var (answers, comment) = reader.IsDBNull(1) ? (reader.GetFieldValue<short[]>(2), reader.GetString(3)) : seal.Unseal(assessmentId, reader.GetFieldValue<byte[]>(1));
                rows.Add(new ResponseRow
                {
                    Line = rows.Count + 1, RespondentToken = Guid.NewGuid().ToString("n"), OrgUnitId = reader.GetString(0),
                    Answers = { answers.Select(a => (int)a) }, Comment = comment,
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
