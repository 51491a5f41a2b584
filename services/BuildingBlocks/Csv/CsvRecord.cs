using System.Buffers.Text;
using System.Text;
using CsvHelper;

namespace Transformation.Csv;

/// <summary>
/// The current record of a file being read: its line, its fields as UTF-8 bytes (valid until the next record), and strict
/// decoding that names the column when a field is not UTF-8. One instance per file; never the whole file.
/// </summary>
public sealed class CsvRecord
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly CsvReader _reader;

    internal CsvRecord(CsvReader reader, IReadOnlyList<string> headers) => (_reader, Headers) = (reader, headers);

    /// <summary>The header's column names, trimmed.</summary>
    public IReadOnlyList<string> Headers { get; }

    /// <summary>The 1-based line where the record starts (the header is line 1).</summary>
    public long Line => _reader.LineNumber;

    public int FieldCount => _reader.FieldCount;

    /// <summary>The bytes read before this record: for progress.</summary>
    public long ByteOffset => _reader.ByteOffset;

    /// <summary>Field <paramref name="index"/> as UTF-8 bytes, valid until the next record.</summary>
    public ReadOnlySpan<byte> Span(int index) => _reader.GetSpan(index);

    /// <summary>
    /// The record has one field per header column; otherwise adds the problem (naming the first missing column) and
    /// returns false.
    /// </summary>
    public bool HasEveryColumn(CsvProblems problems)
    {
        if (FieldCount == Headers.Count)
        {
            return true;
        }

        problems.Add(Line, FieldCount < Headers.Count ? Headers[FieldCount] : "", $"{FieldCount} fields where the header has {Headers.Count}.");
        return false;
    }

    /// <summary>Field <paramref name="index"/> as text; "" after adding a problem naming its column when it is not UTF-8.</summary>
    public string Text(int index, CsvProblems problems)
    {
        var span = Span(index);
        if (span.IsEmpty)
        {
            return "";
        }

        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            problems.Add(Line, Headers[index], NotUtf8);
            return "";
        }
    }

    /// <summary>
    /// Field <paramref name="index"/> as text from <paramref name="cache"/> when an equal value was read before (columns with
    /// few distinct values: no string per row), strictly decoded as <see cref="Text(int, CsvProblems)"/>.
    /// </summary>
    public string Text(int index, CsvProblems problems, CsvValueCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var span = Span(index);
        if (span.IsEmpty)
        {
            return "";
        }

        if (cache.TryGet(span, out var value))
        {
            return value;
        }

        var text = Text(index, problems);
        if (text.Length > 0)
        {
            cache.Add(span, text);
        }

        return text;
    }

    /// <summary>Field <paramref name="index"/> as a whole number; false when it is not one (empty included).</summary>
    public bool TryInt(int index, out int value)
    {
        var span = Span(index);
        return Utf8Parser.TryParse(span, out value, out var consumed) && consumed == span.Length && span.Length > 0;
    }

    /// <summary>The message for a field that is not valid UTF-8.</summary>
    public const string NotUtf8 = "Not valid UTF-8: save the file as UTF-8.";

    /// <summary>Field <paramref name="index"/> quoted for a message: its text, or a note that it is not UTF-8.</summary>
    public string Quote(int index) => System.Text.Unicode.Utf8.IsValid(Span(index)) ? $"'{Encoding.UTF8.GetString(Span(index))}'" : "(not UTF-8)";
}
