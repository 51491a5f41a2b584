using CsvHelper;

namespace Transformation.Csv;

/// <summary>
/// How every CSV the system writes is written: a text cell that starts with =, +, -, @, a tab or a carriage return, which a
/// spreadsheet would run as a formula, gets a single quote in front inside a quoted field (OWASP's CSV injection advice,
/// done by CsvHelper's injection escape).
/// </summary>
public static class CsvExport
{
    /// <summary>The writer options of every CSV export: RFC 4180, quote when needed, formulas neutralised.</summary>
    public static CsvWriterOptions WriterOptions() => new() { Injection = CsvInjection.Escape };

    /// <summary>The text an exported cell stood for: the quote <see cref="WriterOptions"/> put before a formula character removed.</summary>
    public static string Unescape(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.Length > 1 && field[0] == '\'' && field[1] is '=' or '+' or '-' or '@' or '\t' or '\r' ? field[1..] : field;
    }
}
