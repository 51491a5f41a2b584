using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Transformation.GrpcHosting;

/// <summary>
/// Checks every request message before a handler sees it, at any depth, for what no handler can store or understand:
/// a string longer than <see cref="GrpcHostingOptions.MaxStringLength"/> characters or holding a NUL character
/// (PostgreSQL's text cannot); a list or map with more than <see cref="GrpcHostingOptions.MaxListItems"/> entries; an
/// enum number its enum does not define; a <c>google.protobuf.Timestamp</c> outside 0001-01-01..9999-12-31 or a
/// <c>google.protobuf.Duration</c> outside ±10,000 years (or with nanos out of range); a negative <c>page_size</c>,
/// <c>limit</c>, <c>version</c> or <c>*_version</c> (counts and versions are never negative); a number that is not finite
/// (NaN or an infinity: no target, score or weight is one). A request with any is
/// INVALID_ARGUMENT with a field violation per offending field (its path and what is wrong), so nothing reaches a
/// handler. Services keep their own, tighter domain rules (a name's length, say) in their validation.
/// </summary>
/// <remarks>It runs on every call: the fields worth visiting are found once per message type.</remarks>
public static class InputLimits
{
    // Timestamp's and Duration's own bounds (timestamp.proto, duration.proto).
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;
    private const long MaxDurationSeconds = 315_576_000_000;
    private const int MaxNanos = 999_999_999;

    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> FieldsToVisit = new();

    /// <summary>Each offending field of <paramref name="message"/>: its path (<c>rows[2].text</c>) and what is wrong.</summary>
    public static IReadOnlyList<(string Field, string Description)> Violations(IMessage message, GrpcHostingOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(options);
        var violations = new List<(string Field, string Description)>();
        Walk(message, "", options, violations);
        return violations;
    }

    internal static void Check(IMessage message, GrpcHostingOptions options)
    {
        var violations = Violations(message, options);
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The request has invalid fields.", violations);
        }
    }

    private static void Walk(IMessage message, string prefix, GrpcHostingOptions options, List<(string Field, string Description)> violations)
    {
        switch (message)
        {
            case Timestamp timestamp:
                CheckTimestamp(timestamp, prefix, violations);
                return;
            case Duration duration:
                CheckDuration(duration, prefix, violations);
                return;
        }

        foreach (var field in FieldsToVisit.GetOrAdd(message.Descriptor, FindFieldsToVisit))
        {
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                var entries = (IDictionary)value;
                if (!CheckCount(entries.Count, field, prefix, options, violations))
                {
                    var key = field.MessageType.FindFieldByNumber(1);
                    var item = field.MessageType.FindFieldByNumber(2);
                    foreach (DictionaryEntry entry in entries)
                    {
                        CheckValue(entry.Key, key, new FieldPath(prefix, field.Name, entry.Key, IsKey: true), options, violations);
                        CheckValue(entry.Value, item, new FieldPath(prefix, field.Name, entry.Key), options, violations);
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var items = (IList)value;
                if (!CheckCount(items.Count, field, prefix, options, violations))
                {
                    for (var index = 0; index < items.Count; index++)
                    {
                        CheckValue(items[index], field, new FieldPath(prefix, field.Name, index), options, violations);
                    }
                }
            }
            else
            {
                CheckValue(value, field, new FieldPath(prefix, field.Name), options, violations);
            }
        }
    }

    /// <summary>Strings, enums, messages, lists and maps, floating-point numbers, and the counts and versions that may not be negative: the rest cannot be wrong.</summary>
    private static FieldDescriptor[] FindFieldsToVisit(MessageDescriptor descriptor) =>
        [.. descriptor.Fields.InFieldNumberOrder().Where(field => field.IsMap || field.IsRepeated || IsNeverNegative(field)
            || field.FieldType is FieldType.String or FieldType.Enum or FieldType.Message or FieldType.Group or FieldType.Double or FieldType.Float)];

    private static bool IsNeverNegative(FieldDescriptor field) =>
        field.FieldType is FieldType.Int32 or FieldType.Int64 or FieldType.SInt32 or FieldType.SInt64 or FieldType.SFixed32 or FieldType.SFixed64
        && (field.Name is "page_size" or "limit" or "version" || field.Name.EndsWith("_version", StringComparison.Ordinal));

    /// <summary>Adds a violation when a list or map has too many entries; true if it had (its entries are not looked at).</summary>
    private static bool CheckCount(int count, FieldDescriptor field, string prefix, GrpcHostingOptions options, List<(string Field, string Description)> violations)
    {
        if (count <= options.MaxListItems)
        {
            return false;
        }

        violations.Add((prefix + field.Name, string.Create(CultureInfo.InvariantCulture, $"{count} entries; at most {options.MaxListItems}.")));
        return true;
    }

    private static void CheckValue(object? value, FieldDescriptor field, FieldPath path, GrpcHostingOptions options, List<(string Field, string Description)> violations)
    {
        switch (value)
        {
            case string text when text.Length > options.MaxStringLength:
                violations.Add((path.ToString(), string.Create(CultureInfo.InvariantCulture, $"{text.Length} characters; at most {options.MaxStringLength}.")));
                break;
            case string text when text.Contains('\0', StringComparison.Ordinal):
                violations.Add((path.ToString(), string.Create(CultureInfo.InvariantCulture, $"A NUL character (U+0000) at position {text.IndexOf('\0', StringComparison.Ordinal)}; text may not contain one.")));
                break;
            case System.Enum when field.FieldType == FieldType.Enum:
                var number = Convert.ToInt32(value, CultureInfo.InvariantCulture);
                if (field.EnumType.FindValueByNumber(number) is null)
                {
                    violations.Add((path.ToString(), string.Create(CultureInfo.InvariantCulture, $"{number} is not a {field.EnumType.Name} value.")));
                }

                break;
            case int or long when IsNeverNegative(field) && Convert.ToInt64(value, CultureInfo.InvariantCulture) < 0:
                violations.Add((path.ToString(), string.Create(CultureInfo.InvariantCulture, $"{value} is negative; 0 or more.")));
                break;
            case double real when !double.IsFinite(real):
                violations.Add((path.ToString(), "Not a number or infinite; a finite number is required."));
                break;
            case float single when !float.IsFinite(single):
                violations.Add((path.ToString(), "Not a number or infinite; a finite number is required."));
                break;
            case IMessage nested:
                Walk(nested, path.ToString() + ".", options, violations);
                break;
        }
    }

    private static void CheckTimestamp(Timestamp timestamp, string prefix, List<(string Field, string Description)> violations)
    {
        if (timestamp.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds)
        {
            violations.Add((prefix + "seconds", string.Create(CultureInfo.InvariantCulture, $"{timestamp.Seconds} is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.")));
        }

        if (timestamp.Nanos is < 0 or > MaxNanos)
        {
            violations.Add((prefix + "nanos", string.Create(CultureInfo.InvariantCulture, $"{timestamp.Nanos} is outside 0 to {MaxNanos}.")));
        }
    }

    private static void CheckDuration(Duration duration, string prefix, List<(string Field, string Description)> violations)
    {
        if (duration.Seconds is < -MaxDurationSeconds or > MaxDurationSeconds)
        {
            violations.Add((prefix + "seconds", string.Create(CultureInfo.InvariantCulture, $"{duration.Seconds} is outside ±{MaxDurationSeconds} (10,000 years).")));
        }

        if (duration.Nanos is < -MaxNanos or > MaxNanos || (duration.Seconds < 0 && duration.Nanos > 0) || (duration.Seconds > 0 && duration.Nanos < 0))
        {
            violations.Add((prefix + "nanos", string.Create(CultureInfo.InvariantCulture, $"{duration.Nanos} is outside ±{MaxNanos} or has another sign than the seconds.")));
        }
    }

    /// <summary>A field's path, written only when it is reported: <c>nested[1].note</c>, <c>labels[long]</c>, <c>labels[long] (key)</c>.</summary>
    private readonly record struct FieldPath(string Prefix, string Name, object? Index = null, bool IsKey = false)
    {
        public override string ToString() => Index is null ? Prefix + Name
            : string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Name}[{Index}]{(IsKey ? " (key)" : "")}");
    }
}
