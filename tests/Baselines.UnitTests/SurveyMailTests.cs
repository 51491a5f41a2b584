using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.UnitTests;

public sealed class SurveyMailTests
{
    private static readonly DateTimeOffset Opens = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Closes = Opens.AddDays(14);

    [Fact]
    public void EveryNDaysARemindersIsDueNDaysAfterTheOpeningOrTheLastReminder()
    {
        var schedule = new SurveyReminderSchedule { EveryDays = 3 };
        SurveyMail.ReminderDue(schedule, Opens, Closes, null, Opens.AddDays(2.9)).ShouldBeFalse();
        SurveyMail.ReminderDue(schedule, Opens, Closes, null, Opens.AddDays(3)).ShouldBeTrue();
        SurveyMail.ReminderDue(schedule, Opens, Closes, Opens.AddDays(3), Opens.AddDays(5)).ShouldBeFalse();
        SurveyMail.ReminderDue(schedule, Opens, Closes, Opens.AddDays(3), Opens.AddDays(6)).ShouldBeTrue();
    }

    [Fact]
    public void ADaysBeforeCloseReminderIsDueOnceFromThatMomentAndNeverAfterTheClose()
    {
        var schedule = new SurveyReminderSchedule { DaysBeforeClose = 2 };
        SurveyMail.ReminderDue(schedule, Opens, Closes, null, Closes.AddDays(-2.1)).ShouldBeFalse();
        SurveyMail.ReminderDue(schedule, Opens, Closes, null, Closes.AddDays(-2)).ShouldBeTrue();
        SurveyMail.ReminderDue(schedule, Opens, Closes, Opens.AddDays(1), Closes.AddDays(-1)).ShouldBeTrue();
        SurveyMail.ReminderDue(schedule, Opens, Closes, Closes.AddDays(-1.5), Closes.AddDays(-1)).ShouldBeFalse();
        SurveyMail.ReminderDue(schedule, Opens, Closes, null, Closes).ShouldBeFalse();
        SurveyMail.ReminderDue(new SurveyReminderSchedule(), Opens, Closes, null, Closes.AddDays(-1)).ShouldBeFalse();
    }

    [Fact]
    public void APlaceholderIsFilledOnceAndAValueIsNeverReadAsAPlaceholder()
    {
        SurveyMail.Fill("Hello {name}, {survey} at {link} by {closes}.", "Ada {link}", "Pulse", "http://portal/me/surveys/p", Closes)
            .ShouldBe("Hello Ada {link}, Pulse at http://portal/me/surveys/p by 15 March 2026, 09:00 UTC.");
        SurveyMail.Fill("Hello {name}", "", "Pulse", "l", Closes).ShouldBe("Hello colleague");
    }

    [Fact]
    public void ATemplateNamesEachBadField()
    {
        SurveyMail.Validate(SurveyMail.Default(SurveyMailKind.Reminder)).ShouldBeEmpty();
        SurveyMail.Validate(new SurveyMailTemplate { Kind = SurveyMailKind.Unspecified, Subject = "Hi\nthere {who}", Body = "" })
            .Select(v => v.Field).ShouldBe(["template.kind", "template.subject", "template.body", "template.subject", "template.body"]);
        SurveyMail.Validate(new SurveyReminderSchedule { EveryDays = -1, DaysBeforeClose = 400 }).Select(v => v.Field)
            .ShouldBe(["reminders.every_days", "reminders.days_before_close"]);
    }
}
