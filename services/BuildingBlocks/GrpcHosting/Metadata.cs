using System.Collections;

namespace Transformation.GrpcHosting;

/// <summary>
/// gRPC custom metadata: lower-case keys, ASCII values, and binary values under keys ending in
/// <c>-bin</c> (base64 on the wire). A key may repeat.
/// </summary>
public sealed class Metadata : IEnumerable<Metadata.Entry>
{
    public const string BinarySuffix = "-bin";

    private readonly List<Entry> _entries = [];

    public int Count => _entries.Count;

    public void Add(string key, string value)
    {
        key = ValidKey(key);
        if (IsBinaryKey(key))
        {
            throw new ArgumentException($"Key '{key}' ends in '-bin': add a byte[] value.", nameof(key));
        }

        _entries.Add(new Entry(key, value, null));
    }

    public void Add(string key, byte[] value)
    {
        key = ValidKey(key);
        if (!IsBinaryKey(key))
        {
            throw new ArgumentException($"Binary values need a key ending in '-bin', not '{key}'.", nameof(key));
        }

        _entries.Add(new Entry(key, null, value));
    }

    /// <summary>The last text value under <paramref name="key"/>, or null.</summary>
    public string? GetValue(string key) => _entries.LastOrDefault(e => string.Equals(e.Key, key, StringComparison.Ordinal))?.Value;

    /// <summary>The last binary value under <paramref name="key"/>, or null.</summary>
    public byte[]? GetBytes(string key) => _entries.LastOrDefault(e => string.Equals(e.Key, key, StringComparison.Ordinal))?.Bytes;

    public IEnumerator<Entry> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal void AddEntry(Entry entry) => _entries.Add(entry);

    internal static bool IsBinaryKey(string key) => key.EndsWith(BinarySuffix, StringComparison.Ordinal);

    /// <summary>Adds a header as received: -bin values are base64, padded or not, and may be joined with ','.</summary>
    internal void AddWire(string key, string value)
    {
        if (!IsBinaryKey(key))
        {
            _entries.Add(new Entry(key, value, null));
            return;
        }

        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var padded = part.PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '=');
            if (Convert.TryFromBase64String(padded, new byte[padded.Length], out _))
            {
                _entries.Add(new Entry(key, null, Convert.FromBase64String(padded)));
            }
        }
    }

    private static string ValidKey(string key)
    {
        key = key.ToLowerInvariant();
        if (key.Length == 0 || key.Any(c => c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' or '.')))
        {
            throw new ArgumentException($"Metadata key '{key}' may only contain 0-9 a-z _ - .", nameof(key));
        }

        return key;
    }

    /// <summary>One key with either a text or a binary value.</summary>
    public sealed record Entry(string Key, string? Value, byte[]? Bytes)
    {
        public bool IsBinary => Bytes is not null;

        /// <summary>The value as sent on the wire: binary values as unpadded base64, as the spec asks of senders.</summary>
        internal string WireValue => Bytes is null ? Value! : Convert.ToBase64String(Bytes).TrimEnd('=');

        public override string ToString() => $"{Key}={WireValue}";
    }
}
