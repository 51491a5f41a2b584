using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Transformation.Deployment.UnitTests;

/// <summary>
/// YAML as plain trees: mappings are <see cref="Dictionary{TKey, TValue}"/> of string keys, sequences
/// <see cref="List{T}"/>, scalars strings (so 5060 and "5060" read alike, as Kubernetes' own decoding mostly makes them), null null.
/// </summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    /// <summary>Every non-empty document of a file (a file of comments only has none).</summary>
    public static List<Dictionary<string, object?>> LoadAll(string path) => ParseAll(File.ReadAllText(path), path);

    public static List<Dictionary<string, object?>> ParseAll(string text, string source)
    {
        var documents = new List<Dictionary<string, object?>>();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            var document = Normalize(Deserializer.Deserialize<object?>(parser));
            if (document is null)
            {
                continue;
            }

            documents.Add(document as Dictionary<string, object?>
                ?? throw new InvalidDataException($"{source}: a document is not a mapping."));
        }

        return documents;
    }

    public static Dictionary<string, object?> LoadSingle(string path) =>
        LoadAll(path) is [var single] ? single : throw new InvalidDataException($"{path}: expected exactly one YAML document.");

    public static object? Clone(object? value) => value switch
    {
        Dictionary<string, object?> map => map.ToDictionary(entry => entry.Key, entry => Clone(entry.Value), StringComparer.Ordinal),
        List<object?> list => list.Select(Clone).ToList(),
        _ => value,
    };

    /// <summary>The value at a path of mapping keys, or null when any step is missing.</summary>
    public static object? At(this Dictionary<string, object?> map, params string[] path)
    {
        object? current = map;
        foreach (var key in path)
        {
            if (current is not Dictionary<string, object?> step || !step.TryGetValue(key, out current))
            {
                return null;
            }
        }

        return current;
    }

    public static Dictionary<string, object?>? Map(this Dictionary<string, object?> map, params string[] path) =>
        map.At(path) as Dictionary<string, object?>;

    public static IEnumerable<Dictionary<string, object?>> Maps(this Dictionary<string, object?> map, params string[] path) =>
        (map.At(path) as List<object?> ?? []).OfType<Dictionary<string, object?>>();

    public static string? Text(this Dictionary<string, object?> map, params string[] path) => map.At(path) as string;

    /// <summary>A mapping of strings (labels, annotations, ConfigMap data); empty when missing.</summary>
    public static Dictionary<string, string> Strings(this Dictionary<string, object?> map, params string[] path) =>
        (map.Map(path) ?? []).ToDictionary(entry => entry.Key, entry => entry.Value as string ?? "", StringComparer.Ordinal);

    /// <summary>Deep equality of two trees, with the path of the first difference.</summary>
    public static string? Difference(object? left, object? right, string path = "")
    {
        switch (left, right)
        {
            case (Dictionary<string, object?> l, Dictionary<string, object?> r):
                foreach (var key in l.Keys.Union(r.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
                {
                    if (!l.TryGetValue(key, out var lv) || !r.TryGetValue(key, out var rv))
                    {
                        return $"{path}/{key}: present on one side only";
                    }

                    if (Difference(lv, rv, $"{path}/{key}") is { } difference)
                    {
                        return difference;
                    }
                }

                return null;
            case (List<object?> l, List<object?> r):
                if (l.Count != r.Count)
                {
                    return $"{path}: {l.Count} items against {r.Count}";
                }

                for (var i = 0; i < l.Count; i++)
                {
                    if (Difference(l[i], r[i], $"{path}/{i}") is { } difference)
                    {
                        return difference;
                    }
                }

                return null;
            default:
                return Equals(left, right) ? null : $"{path}: '{left}' against '{right}'";
        }
    }

    private static object? Normalize(object? value) => value switch
    {
        IDictionary<object, object?> map => map.ToDictionary(entry => Convert.ToString(entry.Key)!, entry => Normalize(entry.Value), StringComparer.Ordinal),
        IList<object?> list => list.Select(Normalize).ToList(),
        null => null,
        _ => Convert.ToString(value),
    };
}
