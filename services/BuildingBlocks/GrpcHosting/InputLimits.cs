using System.Collections;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Transformation.GrpcHosting;

/// <summary>
/// Bounds every request message before a handler sees it: no string longer than
/// <see cref="GrpcHostingOptions.MaxStringLength"/> characters, no list or map with more than
/// <see cref="GrpcHostingOptions.MaxListItems"/> entries, at any depth. A request over a bound is INVALID_ARGUMENT
/// with a field violation per offending field (its path, its size, the bound), so nothing reaches a handler.
/// Services keep their own, tighter domain rules (a name's length, say) in their validation.
/// </summary>
internal static class InputLimits
{
    public static void Check(IMessage message, GrpcHostingOptions options)
    {
        // A message this small holds no string or list over the bounds (each character and entry takes a byte or more).
        if (message.CalculateSize() <= Math.Min(options.MaxStringLength, options.MaxListItems))
        {
            return;
        }

        var violations = new List<(string Field, string Description)>();
        Walk(message, "", options, violations);
        if (violations.Count > 0)
        {
            throw RpcException.InvalidArgument("The request exceeds the service's input limits.", violations);
        }
    }

    private static void Walk(IMessage message, string prefix, GrpcHostingOptions options, List<(string Field, string Description)> violations)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            var path = prefix + field.Name;
            var value = field.Accessor.GetValue(message);
            if (field.IsMap || field.IsRepeated)
            {
                var count = ((ICollection)value).Count;
                if (count > options.MaxListItems)
                {
                    violations.Add((path, string.Create(CultureInfo.InvariantCulture, $"{count} entries; at most {options.MaxListItems}.")));
                }
                else if (field.IsMap)
                {
                    foreach (DictionaryEntry entry in (IDictionary)value)
                    {
                        CheckValue(entry.Key, $"{path}[{entry.Key}] (key)", options, violations);
                        CheckValue(entry.Value, $"{path}[{entry.Key}]", options, violations);
                    }
                }
                else if (field.FieldType is FieldType.String or FieldType.Message)
                {
                    // Numbers and bytes in a list cannot exceed anything but the count (bytes are bounded by the message size).
                    var index = 0;
                    foreach (var item in (IEnumerable)value)
                    {
                        CheckValue(item, $"{path}[{index++}]", options, violations);
                    }
                }
            }
            else
            {
                CheckValue(value, path, options, violations);
            }
        }
    }

    private static void CheckValue(object? value, string path, GrpcHostingOptions options, List<(string Field, string Description)> violations)
    {
        switch (value)
        {
            case string text when text.Length > options.MaxStringLength:
                violations.Add((path, string.Create(CultureInfo.InvariantCulture, $"{text.Length} characters; at most {options.MaxStringLength}.")));
                break;
            case IMessage nested:
                Walk(nested, path + ".", options, violations);
                break;
        }
    }
}
