using System.Globalization;

namespace Transformation.Csv;

/// <summary>
/// Dates and times in uploaded files: ISO 8601 only, a date (2026-03-12, midnight UTC) or a date and time with its offset or Z
/// (2026-03-12T09:30:00Z, 2026-03-12T09:30:00.5+01:00). Anything else (03/12/2026, which is 3 December or 12 March
/// depending on who wrote it, or a time without its offset) is refused rather than guessed.
/// </summary>
public static class CsvDates
{
    private static readonly string[] Formats =
    [
        "yyyy'-'MM'-'dd",
        "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFF'Z'",
        "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFzzz",
        "yyyy'-'MM'-'dd'T'HH':'mm'Z'",
        "yyyy'-'MM'-'dd'T'HH':'mmzzz",
    ];

    /// <summary>The problem of a text that is not one, for the message naming the line and column.</summary>
    public const string Expected = "an ISO 8601 date (2026-11-02) or date and time with its offset (2026-11-02T09:30:00Z, 2026-11-02T10:30:00+01:00)";

    public static bool TryParse(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParseExact(text, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
}
