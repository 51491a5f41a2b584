using System.Text;

namespace Transformation.Csv;

/// <summary>
/// Strings already read from one column, looked up by their UTF-8 bytes: a column with few distinct values (a unit, a
/// band) costs no string per row. Holds at most <see cref="Capacity"/> values, so it stays small on any file.
/// </summary>
public sealed class CsvValueCache(int capacity = 1024)
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public int Capacity { get; } = capacity;

    internal bool TryGet(ReadOnlySpan<byte> utf8, out string value)
    {
        value = "";
        if (utf8.Length > 128 || !System.Text.Unicode.Utf8.IsValid(utf8))
        {
            return false;
        }

        Span<char> chars = stackalloc char[utf8.Length];
        var count = Encoding.UTF8.GetChars(utf8, chars);
        return _values.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..count], out value!);
    }

    internal void Add(ReadOnlySpan<byte> utf8, string value)
    {
        if (utf8.Length <= 128 && _values.Count < Capacity)
        {
            _values.TryAdd(value, value);
        }
    }
}
