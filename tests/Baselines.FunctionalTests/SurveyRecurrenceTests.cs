using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.TestSupport;
using Grpc.Core;
using BaselineService = Transformation.Baselines.Api.Grpc.BaselineService;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>The service on a clock the tests move.</summary>
public sealed class ClockedBaselinesHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public BaselinesHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Host = new BaselinesHost(postgres, rabbitMq) { Time = Clock };
        await Host.InitializeAsync();
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

/// <summary>Issue 24: pulse surveys on a recurrence, each occurrence its own assessment, opened once on schedule.</summary>
public sealed class SurveyRecurrenceTests(ClockedBaselinesHost fixture) : IClassFixture<ClockedBaselinesHost>
{
    private BaselinesHost Host => fixture.Host;

    private static SurveyRecurrence Weekly(string prefix, DateTimeOffset startsAt) => new()
    {
        RecurrenceId = $"{prefix}-weekly", Title = "Weekly pulse", Period = RecurrencePeriod.Week, Every = 1, StartsAt = Timestamp.FromDateTimeOffset(startsAt),
        OpenDays = 5, PopulationOrgUnitIds = { $"{prefix}-a" }, ItemIds = { $"{prefix}-i1", $"{prefix}-i2", $"{prefix}-i3" },
        Reminders = new SurveyReminderSchedule { DaysBeforeClose = 1 },
    };

    private Task<SetSurveyRecurrenceResponse> SetAsync(string key, SurveyRecurrence recurrence) =>
        Host.CallAsync<SetSurveyRecurrenceRequest, SetSurveyRecurrenceResponse>("SetSurveyRecurrence",
            new SetSurveyRecurrenceRequest { IdempotencyKey = key, Recurrence = recurrence });

    private async Task<SurveyRecurrence> RecurrenceAsync(string id) =>
        (await Host.CallAsync<ListSurveyRecurrencesRequest, ListSurveyRecurrencesResponse>("ListSurveyRecurrences", new())).Recurrences.Single(r => r.RecurrenceId == id);

    private Task WaitForOccurrencesAsync(string id, long count) =>
        TestSql.WaitUntilAsync(Host.ConnectionString, "SELECT count(*) FROM survey_occurrences WHERE recurrence_id = @p", count, TestContext.Current.CancellationToken, id);

    [Fact]
    public async Task EachOccurrenceOpensOnceAsItsOwnPulseAcrossReplicasAndRestartsUntilStopped()
    {
        await SurveysTests.OrganisationAsync(Host, "rc", inA: 6, inB: 2);
        // In whole seconds: PostgreSQL keeps microseconds, not ticks.
        var start = DateTimeOffset.FromUnixTimeSeconds(fixture.Clock.GetUtcNow().ToUnixTimeSeconds()).AddHours(1);
        var set = (await SetAsync("rc-set", Weekly("rc", start))).Recurrence;
        set.NextOpensAt.ToDateTimeOffset().ShouldBe(start);
        set.AssessmentIds.ShouldBeEmpty();

        // Not due yet: a pass opens nothing.
        var replica = Host.Services.GetRequiredService<BaselineService>();
        (await replica.OpenDueOccurrencesAsync(TestContext.Current.CancellationToken)).ShouldBe(0);

        // Due: the service's scheduler opens it; passes racing it (a second replica) and a restart open nothing more.
        fixture.Clock.Advance(TimeSpan.FromHours(1));
        await WaitForOccurrencesAsync("rc-weekly", 1);
        var passes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => replica.OpenDueOccurrencesAsync(TestContext.Current.CancellationToken)));
        passes.ShouldAllBe(opened => opened == 0);
        await Host.RestartAsync(new Dictionary<string, string?>(StringComparer.Ordinal));
        (await Host.Services.GetRequiredService<BaselineService>().OpenDueOccurrencesAsync(TestContext.Current.CancellationToken)).ShouldBe(0);

        var first = (await Host.CallAsync<GetAssessmentRequest, GetAssessmentResponse>("GetAssessment", new GetAssessmentRequest { AssessmentId = "rc-weekly-1" })).Assessment;
        first.Kind.ShouldBe(AssessmentKind.Pulse);
        first.Survey.ShouldBeTrue();
        first.Status.ShouldBe(AssessmentStatus.Open);
        first.OpensAt.ToDateTimeOffset().ShouldBe(start);
        first.ClosesAt.ToDateTimeOffset().ShouldBe(start.AddDays(5));
        first.PopulationOrgUnitIds.ShouldBe(["rc-a"]);
        (await Host.ScalarAsync("SELECT count(*) FROM invitations WHERE assessment_id = 'rc-weekly-1'")).ShouldBe(6);
        (await Host.ScalarAsync("SELECT count(*) FROM assessments WHERE assessment_id LIKE 'rc-weekly-%'")).ShouldBe(1);
        (await Host.ScalarAsync("SELECT reminder_days_before_close FROM assessments WHERE assessment_id = 'rc-weekly-1'")).ShouldBe(1);
        var listed = await RecurrenceAsync("rc-weekly");
        listed.AssessmentIds.ShouldBe(["rc-weekly-1"]);
        listed.NextOpensAt.ToDateTimeOffset().ShouldBe(start.AddDays(7));

        // A week on: the second occurrence, its own assessment (the first's answers stay the first's).
        fixture.Clock.Advance(TimeSpan.FromDays(7));
        await WaitForOccurrencesAsync("rc-weekly", 2);
        (await RecurrenceAsync("rc-weekly")).AssessmentIds.ShouldBe(["rc-weekly-1", "rc-weekly-2"]);
        (await Host.ScalarAsync("SELECT count(*) FROM invitations WHERE assessment_id = 'rc-weekly-2'")).ShouldBe(6);

        // Stopped: a week on, nothing opens; the audit trail has the setting and the stop.
        var stopped = (await Host.CallAsync<StopSurveyRecurrenceRequest, StopSurveyRecurrenceResponse>("StopSurveyRecurrence",
            new StopSurveyRecurrenceRequest { IdempotencyKey = "rc-stop", RecurrenceId = "rc-weekly" })).Recurrence;
        stopped.Stopped.ShouldBeTrue();
        stopped.NextOpensAt.ShouldBeNull();
        fixture.Clock.Advance(TimeSpan.FromDays(7));
        (await Host.Services.GetRequiredService<BaselineService>().OpenDueOccurrencesAsync(TestContext.Current.CancellationToken)).ShouldBe(0);
        (await Host.ScalarAsync("SELECT count(*) FROM survey_occurrences WHERE recurrence_id = 'rc-weekly'")).ShouldBe(2);
        (await Host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity = 'recurrence' AND entity_id = 'rc-weekly'")).ShouldBe(2);
    }

    [Fact]
    public async Task AnInvalidRecurrenceNamesEachBadFieldAndStoresNothing()
    {
        await SurveysTests.OrganisationAsync(Host, "rv", inA: 5, inB: 0);
        var bad = new SurveyRecurrence
        {
            RecurrenceId = "rv-Bad", Title = " ", Period = RecurrencePeriod.Unspecified, Every = 0, OpenDays = 0,
            Reminders = new SurveyReminderSchedule { EveryDays = -1 },
        };
        var refused = await Should.ThrowAsync<RpcException>(() => SetAsync("rv-bad", bad));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).Order(StringComparer.Ordinal).ShouldBe([
            "recurrence.every", "recurrence.item_ids", "recurrence.open_days", "recurrence.period", "recurrence.population_org_unit_ids",
            "recurrence.recurrence_id", "recurrence.reminders.every_days", "recurrence.starts_at", "recurrence.title",
        ]);

        // Longer open than the gap to the next occurrence; then a unit and an item the service does not know.
        var overlapping = Weekly("rv", fixture.Clock.GetUtcNow());
        overlapping.OpenDays = 8;
        (await Should.ThrowAsync<RpcException>(() => SetAsync("rv-overlap", overlapping))).GetDetail<BadRequest>()!.FieldViolations
            .Single().Field.ShouldBe("recurrence.open_days");
        var unknownUnit = Weekly("rv", fixture.Clock.GetUtcNow());
        unknownUnit.PopulationOrgUnitIds.Add("rv-nowhere");
        (await Should.ThrowAsync<RpcException>(() => SetAsync("rv-unit", unknownUnit))).GetDetail<BadRequest>()!.FieldViolations
            .Single().Field.ShouldBe("recurrence.population_org_unit_ids[1]");
        var unknownItem = Weekly("rv", fixture.Clock.GetUtcNow());
        unknownItem.ItemIds[2] = "rv-i9";
        (await Should.ThrowAsync<RpcException>(() => SetAsync("rv-item", unknownItem))).GetDetail<BadRequest>()!.FieldViolations
            .Single().Field.ShouldBe("recurrence.item_ids[2]");

        (await Host.ScalarAsync("SELECT count(*) FROM survey_recurrences WHERE recurrence_id LIKE 'rv-%'")).ShouldBe(0);
        (await Should.ThrowAsync<RpcException>(() => Host.CallAsync<StopSurveyRecurrenceRequest, StopSurveyRecurrenceResponse>("StopSurveyRecurrence",
            new StopSurveyRecurrenceRequest { IdempotencyKey = "rv-stop", RecurrenceId = "rv-none" }))).StatusCode.ShouldBe(StatusCode.NotFound);
    }
}
