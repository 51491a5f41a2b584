using Npgsql;
using Transformation.Mail;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// A survey's mail: the templates HR edits, and the <c>mail_outbox</c> rows written in the same transaction as the opening or the
/// reminder that sends them (the Mail building block's sender delivers them). The invitees' names and addresses come from the
/// employees copy and are used for nothing else; a reminder reads the "has answered" marks to skip those who answered, the only
/// use of the marks besides refusing a second submission.
/// </summary>
public static class SurveyMailStore
{
    public static async Task<List<SurveyMailTemplate>> TemplatesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken ct)
    {
        var saved = new Dictionary<SurveyMailKind, SurveyMailTemplate>();
        await using (var command = connection.Command(transaction, "SELECT kind, subject, body FROM survey_mail_templates"))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var kind = (SurveyMailKind)reader.GetInt32(0);
                saved[kind] = new SurveyMailTemplate { Kind = kind, Subject = reader.GetString(1), Body = reader.GetString(2) };
            }
        }

        return [.. SurveyMail.Kinds.Select(kind => saved.GetValueOrDefault(kind) ?? SurveyMail.Default(kind))];
    }

    public static Task SaveTemplateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SurveyMailTemplate template, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            INSERT INTO survey_mail_templates (kind, subject, body) VALUES ($1, $2, $3)
            ON CONFLICT (kind) DO UPDATE SET subject = excluded.subject, body = excluded.body
            """, ct, (int)template.Kind, template.Subject, template.Body);

    public static Task SaveScheduleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, SurveyReminderSchedule? schedule,
        CancellationToken ct) =>
        connection.ExecuteAsync(transaction, "UPDATE assessments SET reminder_every_days = $2, reminder_days_before_close = $3 WHERE assessment_id = $1", ct,
            assessmentId, schedule?.EveryDays ?? 0, schedule?.DaysBeforeClose ?? 0);

    /// <summary>Queues the invitation to every invitee with an address; the number queued.</summary>
    public static Task<int> InviteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Assessment assessment, Uri portal, CancellationToken ct) =>
        EnqueueAsync(connection, transaction, SurveyMailKind.Invitation, assessment.AssessmentId, assessment.Title, assessment.ClosesAt.ToDateTimeOffset(),
            portal, ct);

    /// <summary>Queues a reminder to each invitee who has not answered and records when; the number reminded.</summary>
    public static async Task<int> RemindAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, string title,
        DateTimeOffset closesAt, Uri portal, DateTimeOffset now, CancellationToken ct)
    {
        var reminded = await EnqueueAsync(connection, transaction, SurveyMailKind.Reminder, assessmentId, title, closesAt, portal, ct);
        await connection.ExecuteAsync(transaction, "UPDATE assessments SET reminded_at = $2 WHERE assessment_id = $1", ct, assessmentId, now);
        return reminded;
    }

    /// <summary>On erasure: no mail queued or kept for the person's address.</summary>
    public static Task ForgetAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId, CancellationToken ct) =>
        connection.ExecuteAsync(transaction, """
            DELETE FROM mail_outbox WHERE recipient IN (SELECT email FROM employees WHERE employee_id = $1 AND email <> '')
            """, ct, employeeId);

    private static async Task<int> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SurveyMailKind kind, string assessmentId,
        string title, DateTimeOffset closesAt, Uri portal, CancellationToken ct)
    {
        var template = (await TemplatesAsync(connection, transaction, ct)).Single(t => t.Kind == kind);
        var link = new Uri(portal, $"me/surveys/{Uri.EscapeDataString(assessmentId)}").ToString();
        var (recipients, subjects, bodies) = (new List<string>(), new List<string>(), new List<string>());
        await using (var command = connection.Command(transaction, $"""
            SELECT e.display_name, e.email FROM invitations i JOIN employees e ON e.employee_id = i.employee_id
            WHERE i.assessment_id = $1 AND e.active AND e.email <> '' {(kind == SurveyMailKind.Reminder ? "AND NOT i.answered" : "")}
            ORDER BY i.employee_id
            """, assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var name = reader.GetString(0);
                recipients.Add(reader.GetString(1));
                subjects.Add(SurveyMail.Fill(template.Subject, name, title, link, closesAt));
                bodies.Add(SurveyMail.Fill(template.Body, name, title, link, closesAt));
            }
        }

        await MailOutbox.EnqueueAsync(connection, transaction, recipients, subjects, bodies, ct);
        return recipients.Count;
    }
}
