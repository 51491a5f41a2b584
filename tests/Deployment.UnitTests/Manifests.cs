using System.Text.RegularExpressions;

namespace Transformation.Deployment.UnitTests;

/// <summary>A rendered kustomization: its objects, and lookups by kind and name.</summary>
internal sealed class Manifests(string name, IReadOnlyList<Dictionary<string, object?>> objects)
{
    private static readonly Dictionary<string, IReadOnlyList<Dictionary<string, object?>>> Cache = new(StringComparer.Ordinal);

    public static IEnumerable<string> Overlays { get; } = ["dev", "prod"];

    public string Name { get; } = name;

    public IReadOnlyList<Dictionary<string, object?>> Objects { get; } = objects;

    /// <summary>An overlay rendered by our kustomize (once per test run; tests only read it).</summary>
    public static Manifests Overlay(string overlay)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(overlay, out var objects))
            {
                Cache[overlay] = objects = Kustomize.Render(Repository.Overlay(overlay));
            }

            return new Manifests(overlay, objects);
        }
    }

    public IEnumerable<Dictionary<string, object?>> OfKind(string kind) => Objects.Where(o => o.Text("kind") == kind);

    public Dictionary<string, object?>? Find(string kind, string name) => OfKind(kind).SingleOrDefault(o => o.Text("metadata", "name") == name);

    public Dictionary<string, object?> Get(string kind, string name) =>
        Find(kind, name) ?? throw new InvalidOperationException($"{Name}: no {kind}/{name} in the rendering.");

    /// <summary>A pod template's containers; the app's is named "app" (a Job's "migrate").</summary>
    public static Dictionary<string, object?> Container(Dictionary<string, object?> workload, string name) =>
        workload.Maps("spec", "template", "spec", "containers").Single(c => c.Text("name") == name);

    public static bool Selects(Dictionary<string, string> selector, Dictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value);

    /// <summary>
    /// The environment a container starts with, as Kubernetes builds it: envFrom ConfigMaps first, then env (which wins),
    /// $(VAR) expanded from what came before. Secret values are asked of <paramref name="secret"/>; field references give
    /// stand-ins. Also returns which names came from a ConfigMap or a literal (what the manifests "set").
    /// </summary>
    public Dictionary<string, string> Environment(Dictionary<string, object?> container, Func<string, string, string> secret)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.Maps("envFrom"))
        {
            var configMap = source.Text("configMapRef", "name") ?? throw new InvalidDataException($"{Name}: envFrom supports configMapRef only here.");
            foreach (var (key, value) in Get("ConfigMap", configMap).Strings("data"))
            {
                environment[key] = value;
            }
        }

        foreach (var variable in container.Maps("env"))
        {
            var variableName = variable.Text("name")!;
            environment[variableName] = variable.Text("value") is { } value
                ? Regex.Replace(value, @"\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)", m => environment.GetValueOrDefault(m.Groups["name"].Value, m.Value), RegexOptions.ExplicitCapture, TimeSpan.FromSeconds(1))
                : variable.Map("valueFrom") switch
                {
                    { } from when from.Map("secretKeyRef") is { } reference => secret(reference.Text("name")!, reference.Text("key")!),
                    { } from when from.Text("fieldRef", "fieldPath") is { } field => $"stand-in-for-{field}",
                    { } from when from.Map("configMapKeyRef") is { } reference => Get("ConfigMap", reference.Text("name")!).Strings("data")[reference.Text("key")!],
                    _ => throw new InvalidDataException($"{Name}: env {variableName} has neither a value nor a supported valueFrom."),
                };
        }

        return environment;
    }

    /// <summary>Every (secret, key) a container's env refers to.</summary>
    public static IEnumerable<(string Secret, string Key)> SecretReferences(Dictionary<string, object?> container) =>
        container.Maps("env").Select(v => v.Map("valueFrom", "secretKeyRef")).OfType<Dictionary<string, object?>>()
            .Select(reference => (reference.Text("name")!, reference.Text("key")!));

    /// <summary>The helper variables that other values refer to as $(NAME) (POD_NAME and the like).</summary>
    public static IEnumerable<string> ReferencedVariables(Dictionary<string, object?> container) =>
        container.Maps("env").Select(v => v.Text("value")).OfType<string>()
            .SelectMany(value => Regex.Matches(value, @"\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)", RegexOptions.ExplicitCapture, TimeSpan.FromSeconds(1)).Select(m => m.Groups["name"].Value));
}
