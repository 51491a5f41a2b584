using Google.Rpc;
using Grpc.Core;
using MimeKit;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.TestSupport;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>The service with its mail going to a real SMTP server (aiosmtpd), and that server.</summary>
public sealed class MailedBaselinesHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public const string Portal = "http://127.0.0.1:5999/";

    public SmtpFixture Smtp { get; } = new();

    public BaselinesHost Host { get; private set; } = null!;

    public static Dictionary<string, string?> MailSettings(int port) => new(StringComparer.Ordinal)
    {
        ["Baselines:Mail:Host"] = "127.0.0.1",
        ["Baselines:Mail:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Baselines:Mail:PortalAddress"] = Portal,
        ["Baselines:Mail:PollInterval"] = "00:00:00.100",
        ["Baselines:Mail:RetryDelay"] = "00:00:00.200",
        ["Baselines:Mail:ReminderCheckInterval"] = "00:00:00.200",
    };

    public async ValueTask InitializeAsync()
    {
        await Smtp.InitializeAsync();
        Host = new BaselinesHost(postgres, rabbitMq) { Settings = MailSettings(Smtp.Server.Port) };
        await Host.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

/// <summary>Issue 24: invitations and reminders by mail, through the mail outbox, to a real SMTP server.</summary>
public sealed class SurveyMailTests(MailedBaselinesHost mailed) : IClassFixture<MailedBaselinesHost>
{
    private BaselinesHost Host => mailed.Host;

    private SmtpFixture Smtp => mailed.Smtp;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Body(MimeMessage message) => message.TextBody ?? "";

    private static string Address(string employee) => $"{employee}@acme.test";

    private static string Link(string assessmentId) => $"{MailedBaselinesHost.Portal}me/surveys/{assessmentId}";

    private async Task<IReadOnlyList<MimeMessage>> ReceivedByAsync(IEnumerable<string> employees, string subjectContains)
    {
        var addresses = employees.Select(Address).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var messages = await Smtp.WaitForAsync(all => addresses.All(a => Mine(all).Any(m => m.To.Mailboxes.Single().Address == a)), Ct);
        return Mine(messages);

        List<MimeMessage> Mine(IEnumerable<MimeMessage> all) =>
            [.. all.Where(m => (m.Subject ?? "").Contains(subjectContains, StringComparison.Ordinal) && addresses.Contains(m.To.Mailboxes.Single().Address))];
    }

    [Fact]
    public async Task OpeningASurveyMailsEveryInviteeOneInvitationWithALinkToItsAnsweringPage()
    {
        var employees = await SurveysTests.OrganisationAsync(Host, "ml1", inA: 3, inB: 2);
        var opened = await SurveysTests.OpenAsync(Host, "ml1");

        var invitations = await ReceivedByAsync(employees, "Pulse");
        invitations.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ShouldBe(employees.Select(Address).Order(StringComparer.Ordinal));
        invitations.ShouldAllBe(m => Body(m).Contains(Link(opened.Assessment.AssessmentId), StringComparison.Ordinal));
        invitations.ShouldAllBe(m => m.From.Mailboxes.Single().Address == "surveys@transformation.local");
        (await Host.ScalarAsync("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL")).ShouldBe(0);
    }

    [Fact]
    public async Task AReminderGoesOnlyToTheInviteesWhoHaveNotAnswered()
    {
        var employees = await SurveysTests.OrganisationAsync(Host, "ml2", inA: 4, inB: 1);
        var opened = await SurveysTests.OpenAsync(Host, "ml2");
        var id = opened.Assessment.AssessmentId;
        await ReceivedByAsync(employees, "Pulse");
        await SurveysTests.SubmitAsync(Host, id, employees[0], SurveysTests.Answers("ml2", 4, 2, 5));
        await SurveysTests.SubmitAsync(Host, id, employees[3], SurveysTests.Answers("ml2", 3, 3, 3));

        var request = new SendSurveyReminderRequest { IdempotencyKey = "remind-ml2", AssessmentId = id };
        (await Host.CallAsync<SendSurveyReminderRequest, SendSurveyReminderResponse>("SendSurveyReminder", request)).Reminded.ShouldBe(3);
        // Retried with its key: no second reminder.
        (await Host.CallAsync<SendSurveyReminderRequest, SendSurveyReminderResponse>("SendSurveyReminder", request)).Reminded.ShouldBe(3);

        string[] notAnswered = [employees[1], employees[2], employees[4]];
        var reminders = await ReceivedByAsync(notAnswered, "Reminder");
        await TestSql.WaitUntilAsync(Host.ConnectionString, "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", 0, Ct);
        Smtp.Messages().Where(m => (m.Subject ?? "").StartsWith("Reminder", StringComparison.Ordinal) && Body(m).Contains(Link(id), StringComparison.Ordinal))
            .Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ShouldBe(notAnswered.Select(Address).Order(StringComparer.Ordinal));
        reminders.ShouldAllBe(m => Body(m).Contains(Link(id), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AScheduledReminderDueNowIsQueuedByItselfAndRecorded()
    {
        var employees = await SurveysTests.OrganisationAsync(Host, "ml6", inA: 2, inB: 1);
        // Closes in 7 days with a reminder 8 days before the close: due at once.
        var opened = await Host.CallAsync<OpenSurveyRequest, OpenSurveyResponse>("OpenSurvey", new OpenSurveyRequest
        {
            IdempotencyKey = "open-ml6", AssessmentId = "ml6-pulse", Title = "Scheduled pulse", Kind = AssessmentKind.Pulse,
            ClosesAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)), PopulationOrgUnitIds = { "ml6-root" },
            ItemIds = { "ml6-i1" }, Reminders = new SurveyReminderSchedule { DaysBeforeClose = 8 },
        });

        var reminders = await ReceivedByAsync(employees, "Reminder: Scheduled pulse");
        reminders.Count.ShouldBe(employees.Length);
        await TestSql.WaitUntilAsync(Host.ConnectionString, "SELECT count(*) FROM assessments WHERE assessment_id = 'ml6-pulse' AND reminded_at IS NOT NULL", 1, Ct);
        opened.Invited.ShouldBe(3);
    }

    [Fact]
    public async Task ABadReminderScheduleIsRefusedNamingItsFieldsAndNothingIsOpened()
    {
        await SurveysTests.OrganisationAsync(Host, "ml7", inA: 1, inB: 0);
        var error = await Should.ThrowAsync<RpcException>(() => Host.CallAsync<OpenSurveyRequest, OpenSurveyResponse>("OpenSurvey", new OpenSurveyRequest
        {
            IdempotencyKey = "open-ml7", AssessmentId = "ml7-pulse", Title = "Pulse", Kind = AssessmentKind.Pulse,
            ClosesAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)), PopulationOrgUnitIds = { "ml7-root" },
            ItemIds = { "ml7-i1" }, Reminders = new SurveyReminderSchedule { EveryDays = -1, DaysBeforeClose = 366 },
        }));
        error.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        error.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["reminders.every_days", "reminders.days_before_close"]);
        (await Host.ScalarAsync("SELECT count(*) FROM assessments WHERE assessment_id = 'ml7-pulse'")).ShouldBe(0);
    }

    [Fact]
    public async Task AReminderForAClosedOrUnknownSurveyIsRefusedAndNothingIsQueued()
    {
        await SurveysTests.OrganisationAsync(Host, "ml3", inA: 2, inB: 0);
        var id = (await SurveysTests.OpenAsync(Host, "ml3")).Assessment.AssessmentId;
        await Host.CloseAsync(id);
        var queued = await Host.ScalarAsync("SELECT count(*) FROM mail_outbox");

        var closed = await Should.ThrowAsync<RpcException>(() => Host.CallAsync<SendSurveyReminderRequest, SendSurveyReminderResponse>("SendSurveyReminder",
            new SendSurveyReminderRequest { IdempotencyKey = "remind-ml3", AssessmentId = id }));
        closed.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        var unknown = await Should.ThrowAsync<RpcException>(() => Host.CallAsync<SendSurveyReminderRequest, SendSurveyReminderResponse>("SendSurveyReminder",
            new SendSurveyReminderRequest { IdempotencyKey = "remind-none", AssessmentId = "no-such-survey" }));
        unknown.StatusCode.ShouldBe(StatusCode.NotFound);
        (await Host.ScalarAsync("SELECT count(*) FROM mail_outbox")).ShouldBe(queued);
    }

    [Fact]
    public async Task HrEditsTheInvitationTextItsPlaceholdersAreFilledAndABadTemplateIsRefusedNamingTheField()
    {
        var bad = await Should.ThrowAsync<RpcException>(() => Host.CallAsync<SetSurveyMailTemplateRequest, SetSurveyMailTemplateResponse>("SetSurveyMailTemplate",
            new SetSurveyMailTemplateRequest
            {
                IdempotencyKey = "bad-template",
                Template = new SurveyMailTemplate { Kind = SurveyMailKind.Invitation, Subject = "{survey} for {nmae}", Body = "No way to answer." },
            }));
        bad.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        bad.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["template.subject", "template.body"]);
        var before = await Host.CallAsync<ListSurveyMailTemplatesRequest, ListSurveyMailTemplatesResponse>("ListSurveyMailTemplates", new());
        before.Templates.Single(t => t.Kind == SurveyMailKind.Invitation).ShouldBe(Api.Model.SurveyMail.Default(SurveyMailKind.Invitation));

        var template = new SurveyMailTemplate { Kind = SurveyMailKind.Invitation, Subject = "{survey}: have your say", Body = "Dear {name}, answer {survey} at {link} by {closes}." };
        await Host.CallAsync<SetSurveyMailTemplateRequest, SetSurveyMailTemplateResponse>("SetSurveyMailTemplate",
            new SetSurveyMailTemplateRequest { IdempotencyKey = "good-template", Template = template });
        try
        {
            var employees = await SurveysTests.OrganisationAsync(Host, "ml4", inA: 1, inB: 0);
            var id = (await SurveysTests.OpenAsync(Host, "ml4")).Assessment.AssessmentId;
            var mail = (await ReceivedByAsync(employees, "have your say")).Single();
            mail.Subject.ShouldBe("Pulse: have your say");
            Body(mail).ShouldStartWith($"Dear {employees[0]}, answer Pulse at {Link(id)} by ");
        }
        finally
        {
            await Host.CallAsync<SetSurveyMailTemplateRequest, SetSurveyMailTemplateResponse>("SetSurveyMailTemplate",
                new SetSurveyMailTemplateRequest { IdempotencyKey = "default-template", Template = Api.Model.SurveyMail.Default(SurveyMailKind.Invitation) });
        }
    }

    [Fact]
    public async Task MailQueuedWhileTheServerIsUnreachableIsDeliveredOnceAfterARestart()
    {
        // Nothing listens on this port: the invitations stay queued.
        await Host.RestartAsync(MailedBaselinesHost.MailSettings(Ports.Free()));
        var employees = await SurveysTests.OrganisationAsync(Host, "ml5", inA: 3, inB: 0);
        var id = (await SurveysTests.OpenAsync(Host, "ml5")).Assessment.AssessmentId;
        (await Host.ScalarAsync($"SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND body LIKE '%{id}%'")).ShouldBe(3);

        await Host.RestartAsync(MailedBaselinesHost.MailSettings(Smtp.Server.Port));
        await ReceivedByAsync(employees, "Pulse");
        await TestSql.WaitUntilAsync(Host.ConnectionString, "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", 0, Ct);
        Smtp.Messages().Count(m => Body(m).Contains(Link(id), StringComparison.Ordinal)).ShouldBe(3);
    }
}
