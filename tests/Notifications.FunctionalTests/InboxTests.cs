using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Baselines.V1;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Notifications.Api.Infrastructure;
using Transformation.Notifications.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>
/// Issue 25: each person's inbox, filled from the integration events on the broker, and its mail through a real SMTP server.
/// Each test has its own service, database and vhost, and its own people (named by the test).
/// </summary>
public sealed class InboxTests(PostgresFixture postgres, RabbitMqFixture rabbitMq, SmtpFixture smtp) : IAsyncLifetime, IClassFixture<SmtpFixture>
{
    private readonly NotificationsHost _host = new(postgres, rabbitMq);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        foreach (var (key, value) in smtp.Settings("Notifications:Mail"))
        {
            _host.Settings[key] = value;
        }

        _host.Settings["Notifications:Mail:PollInterval"] = "00:00:00.050";
        // The scheduler never finds the digest due by itself here: the tests ask it, for a day of their own.
        _host.Settings["Notifications:Mail:DigestTime"] = "23:59:59";
        _host.Settings["Notifications:Mail:DigestCheckInterval"] = "01:00:00";
        await _host.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ASponsorGetsOneNotificationAndOneMailForARedeliveredProposalAndItLeavesTheInboxOnceEndorsed()
    {
        var (sponsor, other) = (Person("sponsor"), Person("other-sponsor"));
        var unit = $"unit-{Guid.NewGuid():n}";
        await PublishAsync(Joined(sponsor), Joined(other), new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = unit, Name = "Northern Sales", Version = 1 } });
        await _host.WaitUntilAsync($"SELECT count(*) FROM people WHERE employee_id IN ('{sponsor.Id}', '{other.Id}')", 2);
        await _host.WaitUntilAsync($"SELECT count(*) FROM org_units WHERE org_unit_id = '{unit}'", 1);

        var proposed = Event(Proposal(unit, 2, sponsor.Id, other.Id));
        await TestEvents.PublishAsync(_host.AmqpUri, [proposed, proposed], Ct);
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{sponsor.Id}'", 1);
        // A later event on the same queue: once it is in, the redelivery before it was handled too.
        await PublishAsync(Proposal(unit, 3, other.Id));
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{other.Id}'", 2);

        var inbox = await ListAsync(sponsor.Id);
        inbox.UnreadCount.ShouldBe(1);
        var item = inbox.Notifications.ShouldHaveSingleItem();
        item.Kind.ShouldBe(NotificationKind.EndorsementRequested);
        item.Title.ShouldBe("The target end state of Northern Sales waits for your endorsement.");
        item.Link.ShouldBe("executive/endorsements");
        await smtp.WaitForAsync(m => smtp.MessagesTo(sponsor.Email).Count > 0, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", 0);
        smtp.MessagesTo(sponsor.Email).ShouldHaveSingleItem().Subject.ShouldBe(item.Title);
        smtp.MessagesTo(sponsor.Email).Single().TextBody!.ShouldContain("/executive/endorsements");

        await PublishAsync(new EndStateEndorsementRecorded
        {
            EndState = Proposal(unit, 4, sponsor.Id, other.Id).EndState, // every endorsement is a newer version
            Endorsement = new Endorsement { SponsorId = sponsor.Id, EndorsedAt = Now },
        });
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{sponsor.Id}' AND done_at IS NOT NULL", 1);

        var after = await ListAsync(sponsor.Id);
        after.Notifications.ShouldBeEmpty();
        after.UnreadCount.ShouldBe(0);
        (await ListAsync(other.Id)).Notifications.Count.ShouldBe(2); // the other sponsor still has to endorse
    }

    [Fact]
    public async Task AHeldRewardWaitsForTheManagerWhoMayApproveItOnlyOnceAndLeavesTheInboxWhenReviewed()
    {
        var (manager, employee) = (Person("manager"), Person("employee"));
        await PublishAsync(Joined(manager), Joined(employee));
        var held = new RewardHeld
        {
            RewardId = $"r-{Guid.NewGuid():n}", EmployeeId = employee.Id, ApproverId = manager.Id, Points = 60, BehaviourName = "Closes the big deal",
            HeldAt = Now,
        };
        var hrOnly = new RewardHeld { RewardId = $"r-{Guid.NewGuid():n}", EmployeeId = employee.Id, Points = 40, BehaviourName = "Speaks up", HeldAt = Now };
        var later = new RewardHeld { RewardId = $"r-{Guid.NewGuid():n}", EmployeeId = employee.Id, ApproverId = manager.Id, Points = 70, HeldAt = Now };
        var redelivered = Event(held);
        await TestEvents.PublishAsync(_host.AmqpUri, [redelivered, redelivered, Event(hrOnly), Event(later)], Ct);
        // The last event on the queue: once it is in, the redelivery and the hr-only hold before it were handled too.
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{manager.Id}'", 2);

        var item = (await ListAsync(manager.Id)).Notifications.Single(n => n.Detail.StartsWith("Closes", StringComparison.Ordinal));
        item.Kind.ShouldBe(NotificationKind.RewardAwaitingApproval);
        item.Title.ShouldBe("A held reward waits for your approval.");
        item.Detail.ShouldBe("Closes the big deal: 60 points");
        item.Link.ShouldBe("me");
        (await ListAsync(employee.Id)).Notifications.ShouldBeEmpty();
        (await _host.ScalarAsync("SELECT count(*) FROM notifications")).ShouldBe(2); // hr is a role: no one in person

        await PublishAsync(new RewardReviewed { RewardId = held.RewardId, EmployeeId = employee.Id, Approved = true, ReviewedBy = manager.Id, ReviewedAt = Now });
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{manager.Id}' AND done_at IS NOT NULL", 1);
        (await ListAsync(manager.Id)).Notifications.ShouldHaveSingleItem().Detail.ShouldBe("70 points"); // the later one still waits
    }

    [Fact]
    public async Task ASubmittedStoryWaitsForItsSponsorOnlyOnceAndLeavesTheInboxWhenPublished()
    {
        var (sponsor, author) = (Person("sponsor"), Person("author"));
        await PublishAsync(Joined(sponsor), Joined(author));
        var submitted = Submitted(sponsor.Id, author.Id, "How the night shift halved its handover time");
        var later = Submitted(sponsor.Id, author.Id, "A second story");
        var redelivered = Event(submitted);
        await TestEvents.PublishAsync(_host.AmqpUri, [redelivered, redelivered, Event(later)], Ct);
        // The last event on the queue: once it is in, the redelivery before it was handled too.
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{sponsor.Id}'", 2);

        var item = (await ListAsync(sponsor.Id)).Notifications.Single(n => n.Detail == submitted.Title);
        item.Kind.ShouldBe(NotificationKind.StoryAwaitingPublication);
        item.Title.ShouldBe("A success story waits for you to publish it.");
        item.Link.ShouldBe("executive/endorsements");
        (await ListAsync(author.Id)).Notifications.ShouldBeEmpty();
        (await _host.ScalarAsync("SELECT count(*) FROM notifications")).ShouldBe(2);

        await PublishAsync(new SuccessStoryPublished
        {
            StoryId = submitted.StoryId, InitiativeId = submitted.InitiativeId, Title = submitted.Title, AuthorId = author.Id, ApprovedBy = sponsor.Id, PublishedAt = Now,
        });
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{sponsor.Id}' AND done_at IS NOT NULL", 1);
        (await ListAsync(sponsor.Id)).Notifications.ShouldHaveSingleItem().Detail.ShouldBe("A second story"); // the later one still waits
    }

    private static SuccessStorySubmitted Submitted(string sponsorId, string authorId, string title) => new()
    {
        StoryId = Guid.NewGuid().ToString(), InitiativeId = $"i-{Guid.NewGuid():n}", Title = title, AuthorId = authorId, SponsorIds = { sponsorId }, SubmittedAt = Now,
    };

    [Fact]
    public async Task ASurveyInvitationReachesEachInviteeOnceAndLeavesTheInboxWhenTheSurveyCloses()
    {
        var (first, second, outsider) = (Person("invitee"), Person("invitee"), Person("outsider"));
        await PublishAsync(Joined(first), Joined(second), Joined(outsider));
        var survey = $"survey-{Guid.NewGuid():n}";
        var other = $"survey-{Guid.NewGuid():n}";
        var batch = Event(new SurveyInvitation { AssessmentId = survey, Title = "Spring pulse", EmployeeIds = { first.Id }, ClosesAt = Now });
        await TestEvents.PublishAsync(_host.AmqpUri,
        [
            batch, batch,
            Event(new SurveyInvitation { AssessmentId = survey, Title = "Spring pulse", EmployeeIds = { second.Id }, ClosesAt = Now }),
            Event(new SurveyInvitation { AssessmentId = other, Title = "Another survey", EmployeeIds = { first.Id }, ClosesAt = Now }),
        ], Ct);
        // The last event on the queue: once it is in, the batches before it were handled too.
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{first.Id}'", 2);

        var item = (await ListAsync(second.Id)).Notifications.ShouldHaveSingleItem();
        item.Kind.ShouldBe(NotificationKind.SurveyOpen);
        item.Title.ShouldBe("A survey is open for you.");
        item.Detail.ShouldBe("Spring pulse");
        item.Link.ShouldBe($"me/surveys/{survey}");
        (await ListAsync(outsider.Id)).Notifications.ShouldBeEmpty();
        (await _host.ScalarAsync("SELECT count(*) FROM notifications")).ShouldBe(3);

        await PublishAsync(new AssessmentClosed { AssessmentId = survey, ClosedAt = Now, Respondents = 1 });
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE subject = 'survey/{survey}' AND done_at IS NOT NULL", 2);
        (await ListAsync(second.Id)).Notifications.ShouldBeEmpty();
        (await ListAsync(first.Id)).Notifications.ShouldHaveSingleItem().Detail.ShouldBe("Another survey"); // still open
    }

    [Fact]
    public async Task APersonReadsAndMarksOnlyTheirOwnInbox()
    {
        var (owner, intruder) = (Person("owner"), Person("intruder"));
        await PublishAsync(Joined(owner), Joined(intruder));
        await PublishAsync(Revoked(owner.Id, "Given twice for the same work."));
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id = '{owner.Id}'", 1);
        var id = (await ListAsync(owner.Id)).Notifications.Single().NotificationId;

        var refused = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<MarkNotificationsReadRequest, MarkNotificationsReadResponse>(
            "MarkNotificationsRead", new MarkNotificationsReadRequest { NotificationIds = { id } }, Token(intruder.Id)));

        refused.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        (await ListAsync(intruder.Id)).Notifications.ShouldBeEmpty();
        var owners = await ListAsync(owner.Id);
        owners.UnreadCount.ShouldBe(1);
        owners.Notifications.Single().Detail.ShouldBe("Given twice for the same work.");

        var marked = await _host.CallAsync<MarkNotificationsReadRequest, MarkNotificationsReadResponse>(
            "MarkNotificationsRead", new MarkNotificationsReadRequest { NotificationIds = { id } }, Token(owner.Id));
        marked.UnreadCount.ShouldBe(0);
        (await ListAsync(owner.Id)).Notifications.Single().Read.ShouldBeTrue();
    }

    [Fact]
    public async Task ADigestReaderGetsOneMailListingTheDayAndANeverReaderGetsNone()
    {
        var (digest, never) = (Person("digest"), Person("never"));
        await SetAsync(digest.Id, EmailFrequency.DailyDigest);
        await SetAsync(never.Id, EmailFrequency.Never);
        (await _host.CallAsync<GetMyNotificationPreferencesRequest, GetMyNotificationPreferencesResponse>("GetMyNotificationPreferences",
            new GetMyNotificationPreferencesRequest(), Token(digest.Id))).Preferences.Email.ShouldBe(EmailFrequency.DailyDigest);
        await PublishAsync(Joined(digest), Joined(never));
        await PublishAsync(Revoked(digest.Id, "First reason."), Revoked(digest.Id, "Second reason."), Revoked(never.Id, "Some reason."));
        await _host.WaitUntilAsync($"SELECT count(*) FROM notifications WHERE recipient_id IN ('{digest.Id}', '{never.Id}')", 3);
        // Nothing was mailed as it arrived: the outbox is written in the notification's own transaction.
        (await _host.ScalarAsync($"SELECT count(*) FROM mail_outbox WHERE recipient IN ('{digest.Email}', '{never.Email}')")).ShouldBe(0);

        var scheduler = _host.Services.GetRequiredService<DigestScheduler>();
        var day = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(2).AddHours(23).AddMinutes(59).AddSeconds(59.5), TimeSpan.Zero);
        (await scheduler.QueueIfDueAsync(day, Ct)).ShouldBe(1);
        (await scheduler.QueueIfDueAsync(day, Ct)).ShouldBe(0); // once a day

        await smtp.WaitForAsync(m => smtp.MessagesTo(digest.Email).Count > 0, Ct);
        var mail = smtp.MessagesTo(digest.Email).ShouldHaveSingleItem();
        mail.Subject.ShouldBe("2 new items in your Transformation inbox");
        mail.TextBody!.ShouldContain("First reason.");
        mail.TextBody!.ShouldContain("Second reason.");
        (await _host.ScalarAsync($"SELECT count(*) FROM mail_outbox WHERE recipient = '{never.Email}'")).ShouldBe(0);
    }

    [Fact]
    public async Task AWatchSendsTheUnreadCountAtOnceAndAgainWhenItChanges()
    {
        var person = Person("watcher");
        await PublishAsync(Joined(person));
        using var call = _host.Client.ServerStreaming<WatchMyNotificationsRequest, WatchMyNotificationsResponse>(
            NotificationsReflection.Descriptor.Services[0].FindMethodByName("WatchMyNotifications"), new WatchMyNotificationsRequest(),
            GrpcTestClient.As(Token(person.Id), cancellationToken: Ct));

        (await NextAsync(call)).UnreadCount.ShouldBe(0);
        await PublishAsync(Revoked(person.Id, "A mistake."));
        (await NextAsync(call)).UnreadCount.ShouldBe(1);
        await _host.CallAsync<MarkNotificationsReadRequest, MarkNotificationsReadResponse>(
            "MarkNotificationsRead", new MarkNotificationsReadRequest { All = true }, Token(person.Id));
        (await NextAsync(call)).UnreadCount.ShouldBe(0);
    }

    private static async Task<WatchMyNotificationsResponse> NextAsync(AsyncServerStreamingCall<WatchMyNotificationsResponse> call)
    {
        (await call.ResponseStream.MoveNext(Ct)).ShouldBeTrue();
        return call.ResponseStream.Current;
    }

    [Fact]
    public async Task ABadPreferenceOrPageTokenIsRefusedNamingTheField()
    {
        var person = Person("bad-input");
        var preference = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SetMyNotificationPreferencesRequest, SetMyNotificationPreferencesResponse>(
            "SetMyNotificationPreferences", new SetMyNotificationPreferencesRequest { Preferences = new NotificationPreferences() }, Token(person.Id)));
        var page = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<ListMyNotificationsRequest, ListMyNotificationsResponse>(
            "ListMyNotifications", new ListMyNotificationsRequest { PageToken = "next" }, Token(person.Id)));

        preference.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        preference.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("preferences.email");
        page.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        page.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("page_token");
        (await _host.CallAsync<GetMyNotificationPreferencesRequest, GetMyNotificationPreferencesResponse>("GetMyNotificationPreferences",
            new GetMyNotificationPreferencesRequest(), Token(person.Id))).Preferences.Email.ShouldBe(EmailFrequency.Immediately);
    }

    private sealed record TestPerson(string Id, string Email);

    private static TestPerson Person(string role)
    {
        var id = $"{role}-{Guid.NewGuid():n}";
        return new TestPerson(id, $"{id}@example.test");
    }

    private string Token(string employeeId) => _host.Identity.TokenFor(employeeId, Roles.Executive);

    private Task<ListMyNotificationsResponse> ListAsync(string employeeId) =>
        _host.CallAsync<ListMyNotificationsRequest, ListMyNotificationsResponse>("ListMyNotifications", new ListMyNotificationsRequest(), Token(employeeId));

    private Task<SetMyNotificationPreferencesResponse> SetAsync(string employeeId, EmailFrequency frequency) =>
        _host.CallAsync<SetMyNotificationPreferencesRequest, SetMyNotificationPreferencesResponse>("SetMyNotificationPreferences",
            new SetMyNotificationPreferencesRequest { Preferences = new NotificationPreferences { Email = frequency } }, Token(employeeId));

    private Task PublishAsync(params IMessage[] events) => TestEvents.PublishAsync(_host.AmqpUri, events, Ct);

    private static EmployeeJoined Joined(TestPerson person) => new()
    {
        Employee = new EmployeeSnapshot { EmployeeId = person.Id, DisplayName = person.Id, Email = person.Email, Active = true, Version = 1 },
    };

    private static EndStateProposed Proposal(string unit, long version, params string[] sponsors) => new()
    {
        EndState = new EndStateVersion
        {
            ScopeOrgUnitId = unit, Version = version, Status = EndStateStatus.Proposed, Draft = new EndStateDraft { SponsorIds = { sponsors } }, ChangedAt = Now,
        },
    };

    private static RewardRevoked Revoked(string employeeId, string reason) => new()
    {
        RewardId = $"r-{Guid.NewGuid():n}", EmployeeId = employeeId, Points = 10, Reason = reason, RevokedBy = "hr-1", RevokedAt = Now,
    };

    private static Timestamp Now => Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);

    private static CloudEvent Event(IMessage message) =>
        CloudEvent.Create(message, message.Descriptor.File.Package.Split('.')[1], "subject", "pubsub", Guid.NewGuid());
}
