using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Baselines.Api.Infrastructure;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Grpc.Core;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Baselines.Api.Grpc;

/// <summary>Surveys answered in the product: hr opens, extends and follows them; each invitee answers their own (see SurveyStore).</summary>
public sealed partial class BaselineService
{
    /// <summary>The most invitees one SurveyInvitation event names.</summary>
    public const int InvitationBatch = 1000;

    public override async Task<OpenSurveyResponse> OpenSurvey(OpenSurveyRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var create = new CreateAssessmentRequest
        {
            IdempotencyKey = request.IdempotencyKey, AssessmentId = request.AssessmentId, Title = request.Title, Kind = request.Kind,
            OpensAt = request.OpensAt ?? Timestamp.FromDateTimeOffset(time.GetUtcNow()), ClosesAt = request.ClosesAt,
            PopulationOrgUnitIds = { request.PopulationOrgUnitIds }, ItemIds = { request.ItemIds },
        };
        var violations = ValidateAssessment(create);
        violations.AddRange(SurveyMail.Validate(request.Reminders));
        if (request.ClosesAt is not null && request.ClosesAt.ToDateTimeOffset() <= time.GetUtcNow())
        {
            violations.Add(("closes_at", "A survey closes in the future."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("OpenSurvey", caller, request, OpenSurveyResponse.Parser,
            (connection, transaction, ct) => OpenSurveyAsync(connection, transaction, caller, create, request.ExcludeSubUnits, request.Reminders, ct),
            context.CancellationToken);
    }

    /// <summary>Opens a (valid) survey in the caller's transaction: the assessment, its invitations, and their mail.</summary>
    private async Task<OpenSurveyResponse> OpenSurveyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller,
        CreateAssessmentRequest create, bool excludeSubUnits, SurveyReminderSchedule? reminders, CancellationToken ct)
    {
        var assessment = await InsertAssessmentAsync(connection, transaction, caller, create, survey: true, excludeSubUnits, ct);
        var tree = await scores.TreeAsync(connection, ct, transaction);
        var invited = await SurveyStore.InviteAsync(connection, transaction, assessment.AssessmentId,
            Surveys.InvitedUnits(create.PopulationOrgUnitIds, excludeSubUnits, tree), ct);
        if (invited.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "No active employee works in the population: nobody would be invited."));
        }

        // Their inboxes hear of it in batches, in one outbox round trip; who answers never leaves this service.
        await outbox.EnqueueAsync(connection, transaction, [.. invited.Chunk(InvitationBatch).Select(ids => new OutgoingEvent(assessment.AssessmentId,
            new SurveyInvitation { AssessmentId = assessment.AssessmentId, Title = assessment.Title, EmployeeIds = { ids }, ClosesAt = assessment.ClosesAt }))], ct);

        // The invitations by mail commit with the opening; the mail outbox sender delivers them.
        await SurveyMailStore.SaveScheduleAsync(connection, transaction, assessment.AssessmentId, reminders, ct);
        await SurveyMailStore.InviteAsync(connection, transaction, assessment, options.Value.Mail.PortalUri, ct);
        return new OpenSurveyResponse { Assessment = assessment, Invited = invited.Count };
    }

    public override async Task<ExtendSurveyResponse> ExtendSurvey(ExtendSurveyRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.ClosesAt is null || request.ClosesAt.ToDateTimeOffset() <= time.GetUtcNow())
        {
            violations.Add(("closes_at", "The new end, in the future, is required."));
        }

        ThrowIfAny(violations);
        return await IdempotentAsync("ExtendSurvey", caller, request, ExtendSurveyResponse.Parser, async (connection, transaction, ct) =>
        {
            var assessment = await LoadAssessmentAsync(connection, transaction, request.AssessmentId, ct, forUpdate: true);
            RequireOpenSurvey(assessment);
            if (request.ClosesAt!.ToDateTimeOffset() <= assessment.ClosesAt.ToDateTimeOffset())
            {
                throw RpcErrors.InvalidArgument("An extension ends later.", ("closes_at", $"Not after the current end, {assessment.ClosesAt}."));
            }

            await connection.ExecuteAsync(transaction, "UPDATE assessments SET closes_at = $2 WHERE assessment_id = $1", ct,
                assessment.AssessmentId, request.ClosesAt.ToDateTimeOffset());
            var before = assessment.Clone();
            assessment.ClosesAt = request.ClosesAt;
            await AuditAsync(connection, transaction, "assessment", assessment.AssessmentId, caller, before, assessment, ct);
            return new ExtendSurveyResponse { Assessment = assessment };
        }, context.CancellationToken);
    }

    public override async Task<ListMySurveysResponse> ListMySurveys(ListMySurveysRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new ListMySurveysResponse { Surveys = { await SurveyStore.MySurveysAsync(connection, caller.Subject, context.CancellationToken) } };
    }

    public override async Task<GetMySurveyResponse> GetMySurvey(GetMySurveyRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadSurveyAsync(connection, null, request.AssessmentId, ct);
        var invitation = await SurveyStore.InvitationAsync(connection, null, assessment.AssessmentId, caller.Subject, ct) ?? throw NotInvited(assessment);
        var response = new GetMySurveyResponse
        {
            Survey = new MySurveySummary
            {
                AssessmentId = assessment.AssessmentId, Title = assessment.Title, Kind = assessment.Kind, ClosesAt = assessment.ClosesAt,
                Answered = invitation.Answered,
            },
            Scale = { Surveys.AgreementScale },
            Draft = invitation.Answered ? new SurveyAnswers() : await SurveyStore.DraftAsync(connection, seal, assessment.AssessmentId, caller.Subject, ct) ?? new SurveyAnswers(),
        };
        response.Survey.HasDraft = response.Draft.Answers.Count > 0 || response.Draft.Comments.Count > 0;

        // The items in the survey's order, grouped by dimension in the order of each dimension's first item.
        await using var command = connection.Command(null, """
            SELECT i.item_id, i.text, d.dimension_id, d.name, d.description FROM assessment_items ai JOIN items i ON i.item_id = ai.item_id
            JOIN LATERAL (SELECT dimension_id, name, description FROM dimension_versions v WHERE v.dimension_id = ai.dimension_id ORDER BY version DESC LIMIT 1) d ON true
            WHERE ai.assessment_id = $1 ORDER BY ai.position
            """, assessment.AssessmentId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var dimensions = new Dictionary<string, SurveyDimension>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            if (!dimensions.TryGetValue(reader.GetString(2), out var dimension))
            {
                dimensions[reader.GetString(2)] = dimension = new SurveyDimension { DimensionId = reader.GetString(2), Name = reader.GetString(3), Description = reader.GetString(4) };
                response.Dimensions.Add(dimension);
            }

            dimension.Items.Add(new SurveyItem { ItemId = reader.GetString(0), Text = reader.GetString(1) });
        }

        return response;
    }

    public override async Task<SaveSurveyDraftResponse> SaveSurveyDraft(SaveSurveyDraftRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (assessment, _) = await AnsweringAsync(connection, transaction, request.AssessmentId, caller.Subject, ct);
        await ReadAnswersAsync(connection, transaction, assessment, request.Answers, submission: false, ct);
        await SurveyStore.SaveDraftAsync(connection, transaction, seal, assessment.AssessmentId, caller.Subject, request.Answers ?? new SurveyAnswers(), ct);
        await transaction.CommitAsync(ct);
        return new SaveSurveyDraftResponse();
    }

    public override async Task<SubmitSurveyResponse> SubmitSurvey(SubmitSurveyRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (assessment, unit) = await AnsweringAsync(connection, transaction, request.AssessmentId, caller.Subject, ct);
        var (answers, comment) = await ReadAnswersAsync(connection, transaction, assessment, request.Answers, submission: true, ct);

        // Kept under the nearest unit of the population with at least the minimum group of invitees (with its sub-units').
        var tree = await scores.TreeAsync(connection, ct, transaction);
        var scope = Surveys.InvitedUnits(assessment.PopulationOrgUnitIds, assessment.ExcludeSubUnits, tree);
        var invited = Surveys.WithSubUnits(await InvitedPerUnitAsync(connection, transaction, assessment.AssessmentId, ct), tree, scope);
        var reportingUnit = Surveys.ReportingUnit(unit, tree, invited, scope, scores.MinimumGroupSize);
        await SurveyStore.SubmitAsync(connection, transaction, assessment.AssessmentId, caller.Subject, reportingUnit,
            seal.Seal(assessment.AssessmentId, answers, comment), ct);
        await transaction.CommitAsync(ct);
        return new SubmitSurveyResponse();
    }

    /// <summary>
    /// An open survey's invitees per unit. They are fixed at opening (each keeps the unit they had then), so they are counted once
    /// per survey, not by every submission: counting per submission read every invitation, which made a day of 100,000 answers
    /// quadratic (about 70 submissions/s, the database busy counting).
    /// </summary>
    private async Task<Dictionary<string, long>> InvitedPerUnitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId,
        CancellationToken ct)
    {
        if (!_invitedPerUnit.TryGetValue(assessmentId, out var invited))
        {
            invited = (await SurveyStore.CountsAsync(connection, transaction, assessmentId, ct)).ToDictionary(c => c.Key, c => c.Value.Invited, StringComparer.Ordinal);
            _invitedPerUnit.TryAdd(assessmentId, invited);
        }

        return invited;
    }

    public override async Task<GetResponseRatesResponse> GetResponseRates(GetResponseRatesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadSurveyAsync(connection, null, request.AssessmentId, ct);
        var tree = await scores.TreeAsync(connection, ct);
        var scope = Surveys.InvitedUnits(assessment.PopulationOrgUnitIds, assessment.ExcludeSubUnits, tree);
        var counts = await SurveyStore.CountsAsync(connection, null, assessment.AssessmentId, ct);
        var invited = Surveys.WithSubUnits(counts.ToDictionary(c => c.Key, c => c.Value.Invited, StringComparer.Ordinal), tree, scope);
        var answered = Surveys.WithSubUnits(counts.ToDictionary(c => c.Key, c => c.Value.Answered, StringComparer.Ordinal), tree, scope);
        var response = new GetResponseRatesResponse { MinimumGroupSize = scores.MinimumGroupSize };
        foreach (var unit in scope.Where(u => invited[u] > 0).Order(StringComparer.Ordinal))
        {
            response.Units.Add(invited[unit] < scores.MinimumGroupSize
                ? new UnitResponseRate { OrgUnitId = unit, BelowMinimum = true }
                : new UnitResponseRate { OrgUnitId = unit, Invited = invited[unit], Answered = answered[unit], Rate = (double)answered[unit] / invited[unit] });
        }

        return response;
    }

    public override async Task<SendSurveyReminderResponse> SendSurveyReminder(SendSurveyReminderRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        return await IdempotentAsync("SendSurveyReminder", caller, request, SendSurveyReminderResponse.Parser, async (connection, transaction, ct) =>
        {
            var assessment = await LoadSurveyAsync(connection, transaction, request.AssessmentId, ct);
            RequireOpenSurvey(assessment);
            await connection.ExecuteAsync(transaction, "SELECT 1 FROM assessments WHERE assessment_id = $1 FOR UPDATE", ct, assessment.AssessmentId);
            var response = new SendSurveyReminderResponse
            {
                Reminded = await SurveyMailStore.RemindAsync(connection, transaction, assessment.AssessmentId, assessment.Title,
                    assessment.ClosesAt.ToDateTimeOffset(), options.Value.Mail.PortalUri, time.GetUtcNow(), ct),
            };
            await AuditAsync(connection, transaction, "reminder", assessment.AssessmentId, caller, null, response, ct);
            return response;
        }, context.CancellationToken);
    }

    public override async Task<ListSurveyMailTemplatesResponse> ListSurveyMailTemplates(ListSurveyMailTemplatesRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new ListSurveyMailTemplatesResponse { Templates = { await SurveyMailStore.TemplatesAsync(connection, null, context.CancellationToken) } };
    }

    public override async Task<SetSurveyMailTemplateResponse> SetSurveyMailTemplate(SetSurveyMailTemplateRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = SurveyMail.Validate(request.Template);
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        return await IdempotentAsync("SetSurveyMailTemplate", caller, request, SetSurveyMailTemplateResponse.Parser, async (connection, transaction, ct) =>
        {
            var before = (await SurveyMailStore.TemplatesAsync(connection, transaction, ct)).Single(t => t.Kind == request.Template.Kind);
            await SurveyMailStore.SaveTemplateAsync(connection, transaction, request.Template, ct);
            await AuditAsync(connection, transaction, "mail-template", request.Template.Kind.ToString(), caller, before, request.Template, ct);
            return new SetSurveyMailTemplateResponse { Template = request.Template };
        }, context.CancellationToken);
    }

    /// <summary>The survey, open for answers now, and the caller's invitation (unit at opening), not yet answered; locked until the transaction ends.</summary>
    private async Task<(Assessment Assessment, string Unit)> AnsweringAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId,
        string employeeId, CancellationToken ct)
    {
        // FOR SHARE: a close waits for the answers being written (its ingestion must see them all).
        var assessment = await LoadSurveyAsync(connection, transaction, assessmentId, ct, forShare: true);
        var invitation = await SurveyStore.InvitationAsync(connection, transaction, assessment.AssessmentId, employeeId, ct) ?? throw NotInvited(assessment);
        var now = time.GetUtcNow();
        if (assessment.Status != AssessmentStatus.Open || assessment.ClosesAt.ToDateTimeOffset() <= now)
        {
            throw RpcErrors.WithDetails(StatusCode.FailedPrecondition, $"The survey \"{assessment.Title}\" is closed: no more answers.", Violation("assessment_id", "Closed."));
        }

        if (assessment.OpensAt.ToDateTimeOffset() > now)
        {
            throw RpcErrors.WithDetails(StatusCode.FailedPrecondition, $"The survey \"{assessment.Title}\" opens on {assessment.OpensAt.ToDateTimeOffset():d MMMM yyyy, HH:mm} UTC.",
                Violation("assessment_id", "Not open yet."));
        }

        if (invitation.Answered)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"You have answered the survey \"{assessment.Title}\" already: it is answered once."));
        }

        return (assessment, invitation.Unit);
    }

    /// <summary>The answers in item order and the comments as one text; INVALID_ARGUMENT naming each bad field.</summary>
    private static async Task<(short[] Answers, string Comment)> ReadAnswersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        Assessment assessment, SurveyAnswers? answers, bool submission, CancellationToken ct)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var command = connection.Command(transaction, """
            SELECT DISTINCT ON (v.dimension_id) v.dimension_id, v.name FROM dimension_versions v
            WHERE v.dimension_id IN (SELECT dimension_id FROM assessment_items WHERE assessment_id = $1) ORDER BY v.dimension_id, v.version DESC
            """, assessment.AssessmentId))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                names[reader.GetString(0)] = reader.GetString(1);
            }
        }

        var (result, comment, violations) = Surveys.Read(answers, assessment.ItemIds, names, submission);
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The answers are invalid; nothing was stored.", violations);
        }

        return (result, comment);
    }

    private static async Task<Assessment> LoadSurveyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string assessmentId, CancellationToken ct,
        bool forShare = false)
    {
        if (assessmentId.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The survey is required.", ("assessment_id", "The assessment id is required."));
        }

        var assessment = await LoadAssessmentAsync(connection, transaction, assessmentId, ct, forShare: forShare);
        return assessment.Survey ? assessment
            : throw RpcErrors.WithDetails(StatusCode.FailedPrecondition, $"The assessment {assessmentId} is imported, not answered in the product.",
                Violation("assessment_id", "Not a survey answered in the product."));
    }

    private static void RequireOpenSurvey(Assessment assessment)
    {
        if (!assessment.Survey || assessment.Status != AssessmentStatus.Open)
        {
            throw RpcErrors.WithDetails(StatusCode.FailedPrecondition, $"The assessment {assessment.AssessmentId} is not an open survey.",
                Violation("assessment_id", "Not an open survey."));
        }
    }

    private static RpcException NotInvited(Assessment assessment) =>
        new(new Status(StatusCode.NotFound, $"You are not invited to the survey \"{assessment.Title}\": you are outside its population."));

    private static Google.Rpc.PreconditionFailure Violation(string subject, string description) =>
        new() { Violations = { new Google.Rpc.PreconditionFailure.Types.Violation { Type = "STATE", Subject = subject, Description = description } } };
}
