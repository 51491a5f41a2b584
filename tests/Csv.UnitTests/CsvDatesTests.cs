namespace Transformation.Csv.UnitTests;

public sealed class CsvDatesTests
{
    [Theory]
    [InlineData("2026-03-12", "2026-03-12T00:00:00+00:00")]
    [InlineData("2026-03-12T09:30:00Z", "2026-03-12T09:30:00+00:00")]
    [InlineData("2026-03-12T09:30:00.250Z", "2026-03-12T09:30:00.25+00:00")]
    [InlineData("2026-03-12T10:30:00+01:00", "2026-03-12T10:30:00+01:00")]
    [InlineData("2026-03-12T09:30Z", "2026-03-12T09:30:00+00:00")]
    public void Iso8601DatesAndDateTimesWithTheirOffsetParse(string text, string expected)
    {
        CsvDates.TryParse(text, out var value).ShouldBeTrue();
        value.ShouldBe(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("03/12/2026")]  // 12 March in the US, 3 December elsewhere: refused, not guessed
    [InlineData("12.03.2026")]
    [InlineData("2026-03-12T09:30:00")]  // no offset: whose 09:30?
    [InlineData("2026-03-12 09:30:00Z")]
    [InlineData("Thu, 12 Mar 2026 09:30:00 GMT")]
    [InlineData("2026-13-01")]
    [InlineData("")]
    public void AnythingElseIsRefused(string text) => CsvDates.TryParse(text, out _).ShouldBeFalse();
}
