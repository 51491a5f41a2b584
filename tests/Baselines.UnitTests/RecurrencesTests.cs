using Google.Protobuf.WellKnownTypes;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.UnitTests;

public sealed class RecurrencesTests
{
    private static SurveyRecurrence Every(RecurrencePeriod period, int every, DateTimeOffset start) =>
        new() { Period = period, Every = every, StartsAt = Timestamp.FromDateTimeOffset(start), OpenDays = 7 };

    [Fact]
    public void MonthlyOccurrencesCountFromTheStartSoAShortMonthNeverShiftsTheRest()
    {
        var monthly = Every(RecurrencePeriod.Month, 1, new DateTimeOffset(2027, 1, 31, 9, 0, 0, TimeSpan.Zero));

        Recurrences.OpensAt(monthly, 1).ShouldBe(new DateTimeOffset(2027, 2, 28, 9, 0, 0, TimeSpan.Zero));
        Recurrences.OpensAt(monthly, 2).ShouldBe(new DateTimeOffset(2027, 3, 31, 9, 0, 0, TimeSpan.Zero));
        Recurrences.ClosesAt(monthly, 2).ShouldBe(new DateTimeOffset(2027, 4, 7, 9, 0, 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(RecurrencePeriod.Week, 2, "2027-01-04T08:59:59Z", null)]
    [InlineData(RecurrencePeriod.Week, 2, "2027-01-04T09:00:00Z", 0L)]
    [InlineData(RecurrencePeriod.Week, 2, "2027-01-18T08:59:59Z", 0L)]
    [InlineData(RecurrencePeriod.Week, 2, "2027-01-18T09:00:00Z", 1L)]
    [InlineData(RecurrencePeriod.Month, 1, "2027-03-04T08:00:00Z", 1L)]
    [InlineData(RecurrencePeriod.Month, 1, "2027-03-04T09:00:00Z", 2L)]
    [InlineData(RecurrencePeriod.Quarter, 1, "2027-10-03T00:00:00Z", 2L)]
    [InlineData(RecurrencePeriod.Quarter, 1, "2032-01-04T09:00:00Z", 20L)]
    public void TheOccurrenceDueIsTheLatestOpenedAtOrBeforeNow(RecurrencePeriod period, int every, string now, long? due) =>
        Recurrences.LatestDue(Every(period, every, new DateTimeOffset(2027, 1, 4, 9, 0, 0, TimeSpan.Zero)),
            DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture)).ShouldBe(due);

    [Fact]
    public void AnOccurrenceClosesBeforeTheNextOpensAndEachFieldIsNamed()
    {
        var weekly = Every(RecurrencePeriod.Week, 1, DateTimeOffset.UnixEpoch);
        (weekly.Title, weekly.OpenDays) = ("Pulse", 8);
        weekly.PopulationOrgUnitIds.Add("org");
        weekly.ItemIds.Add("i1");
        Recurrences.Validate(weekly).Select(v => v.Field).ShouldBe(["recurrence.open_days"]);
        weekly.OpenDays = 7;
        Recurrences.Validate(weekly).ShouldBeEmpty();
        Recurrences.Validate(null).Select(v => v.Field).ShouldBe(["recurrence"]);
    }
}
