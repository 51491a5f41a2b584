namespace Transformation.Deployment.UnitTests;

/// <summary>
/// A small kustomize, for rendering k8s/ without a cluster or a kustomize binary. It knows the features our
/// kustomizations use and refuses any other, so that an overlay cannot silently rely on something it cannot render:
/// <c>resources</c> (files and kustomization folders), <c>namespace</c>, <c>images</c> (newName, newTag) and
/// <c>patches</c> (strategic merge, from a file or inline, matched by kind and name or by a target's kind and name).
/// <see cref="KustomizeTests"/> compares it with <c>kubectl kustomize</c> where kubectl is installed.
/// </summary>
internal static class Kustomize
{
    private static readonly HashSet<string> Fields = new(StringComparer.Ordinal) { "apiVersion", "kind", "namespace", "resources", "images", "patches" };

    /// <summary>Kinds the namespace transformer leaves alone (the cluster-scoped ones we could meet).</summary>
    private static readonly HashSet<string> ClusterScoped = new(StringComparer.Ordinal)
    {
        "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass", "PersistentVolume",
    };

    /// <summary>Strategic-merge keys of the lists a patch may merge into; other lists are refused rather than guessed.</summary>
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
    };

    public static List<Dictionary<string, object?>> Render(string directory)
    {
        var file = Path.Combine(directory, "kustomization.yaml");
        var kustomization = Yaml.LoadSingle(file);
        if (kustomization.Keys.FirstOrDefault(key => !Fields.Contains(key)) is { } unknown)
        {
            throw new NotSupportedException($"{file}: '{unknown}' is not rendered by the manifest test's kustomize; keep to {string.Join(", ", Fields)} or extend it.");
        }

        var objects = new List<Dictionary<string, object?>>();
        foreach (var resource in Strings(kustomization, "resources", file))
        {
            var path = Path.GetFullPath(Path.Combine(directory, resource));
            objects.AddRange(System.IO.Directory.Exists(path) ? Render(path) : Yaml.LoadAll(path));
        }

        foreach (var patch in kustomization.Maps("patches"))
        {
            ApplyPatch(objects, patch, directory, file);
        }

        if (kustomization.Text("namespace") is { } ns)
        {
            foreach (var item in objects.Where(o => !ClusterScoped.Contains(o.Text("kind") ?? "")))
            {
                item.Map("metadata")!["namespace"] = ns;
            }

            // As kustomize's namespace transformer: a binding's service accounts are those of the namespace it moves to.
            foreach (var subject in objects.Where(o => o.Text("kind") is "RoleBinding" or "ClusterRoleBinding").SelectMany(b => b.Maps("subjects")))
            {
                if (subject.Text("kind") == "ServiceAccount")
                {
                    subject["namespace"] = ns;
                }
            }
        }

        foreach (var image in kustomization.Maps("images"))
        {
            if (image.Keys.FirstOrDefault(key => key is not ("name" or "newName" or "newTag")) is { } field)
            {
                throw new NotSupportedException($"{file}: images.{field} is not rendered by the manifest test's kustomize.");
            }

            foreach (var container in objects.SelectMany(Containers))
            {
                SetImage(container, image.Text("name")!, image.Text("newName"), image.Text("newTag"));
            }
        }

        return objects;
    }

    /// <summary>Every container and init container of a manifest, wherever its pod template is.</summary>
    public static IEnumerable<Dictionary<string, object?>> Containers(Dictionary<string, object?> manifest)
    {
        foreach (var (key, value) in manifest)
        {
            if (key is "containers" or "initContainers" && value is List<object?> list)
            {
                foreach (var container in list.OfType<Dictionary<string, object?>>())
                {
                    yield return container;
                }
            }
            else if (value is Dictionary<string, object?> child)
            {
                foreach (var container in Containers(child))
                {
                    yield return container;
                }
            }
        }
    }

    private static void ApplyPatch(List<Dictionary<string, object?>> objects, Dictionary<string, object?> patch, string directory, string file)
    {
        if (patch.Keys.FirstOrDefault(key => key is not ("path" or "patch" or "target")) is { } field)
        {
            throw new NotSupportedException($"{file}: patches[].{field} is not rendered by the manifest test's kustomize.");
        }

        var documents = patch.Text("path") is { } path
            ? Yaml.LoadAll(Path.Combine(directory, path))
            : Yaml.ParseAll(patch.Text("patch") ?? throw new InvalidDataException($"{file}: a patch needs a path or a patch."), file);
        if (documents.Any(d => d.ContainsKey("op") || Flatten(d).Any(key => key.StartsWith('$'))))
        {
            throw new NotSupportedException($"{file}: only strategic-merge patches without $patch directives are rendered.");
        }

        var target = patch.Map("target");
        if (target?.Keys.FirstOrDefault(key => key is not ("kind" or "name")) is { } selector)
        {
            throw new NotSupportedException($"{file}: target.{selector} is not rendered by the manifest test's kustomize.");
        }

        foreach (var document in documents)
        {
            var kind = target is null ? document.Text("kind") : target.Text("kind");
            var name = target is null ? document.Text("metadata", "name") : target.Text("name");
            var matches = objects.Where(o => (kind is null || o.Text("kind") == kind) && (name is null || o.Text("metadata", "name") == name)).ToList();
            if (matches.Count == 0 || (target is null && matches.Count > 1))
            {
                throw new InvalidDataException($"{file}: the patch for {kind}/{name} matches {matches.Count} objects.");
            }

            foreach (var match in matches)
            {
                var body = (Dictionary<string, object?>)Yaml.Clone(document)!;
                if (target is not null)
                {
                    // With a target, the patch's own name is a placeholder: kustomize applies it to every match.
                    body.Map("metadata")?.Remove("name");
                }

                Merge(match, body, "");
            }
        }
    }

    private static IEnumerable<string> Flatten(Dictionary<string, object?> map) =>
        map.SelectMany(entry => entry.Value switch
        {
            Dictionary<string, object?> child => Flatten(child).Prepend(entry.Key),
            List<object?> list => list.OfType<Dictionary<string, object?>>().SelectMany(Flatten).Prepend(entry.Key),
            _ => [entry.Key],
        });

    private static void Merge(Dictionary<string, object?> target, Dictionary<string, object?> patch, string path)
    {
        foreach (var (key, value) in patch)
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is Dictionary<string, object?> patchMap && target.GetValueOrDefault(key) is Dictionary<string, object?> targetMap)
            {
                Merge(targetMap, patchMap, $"{path}/{key}");
            }
            else if (value is List<object?> patchList && target.GetValueOrDefault(key) is List<object?> targetList)
            {
                if (!MergeKeys.TryGetValue(key, out var mergeKey))
                {
                    throw new NotSupportedException($"{path}/{key}: the manifest test's kustomize merges only {string.Join(", ", MergeKeys.Keys)} lists.");
                }

                // As kustomize orders a merged list: the patch's items first (merged with their match), then the others.
                var merged = new List<object?>();
                foreach (var item in patchList.Cast<Dictionary<string, object?>>())
                {
                    var existing = targetList.OfType<Dictionary<string, object?>>()
                        .FirstOrDefault(candidate => Equals(candidate.GetValueOrDefault(mergeKey), item[mergeKey]));
                    if (existing is null)
                    {
                        merged.Add(Yaml.Clone(item));
                    }
                    else
                    {
                        Merge(existing, item, $"{path}/{key}[{item[mergeKey]}]");
                        merged.Add(existing);
                    }
                }

                merged.AddRange(targetList.Where(candidate => !merged.Contains(candidate)));
                target[key] = merged;
            }
            else
            {
                target[key] = Yaml.Clone(value);
            }
        }
    }

    private static void SetImage(Dictionary<string, object?> container, string name, string? newName, string? newTag)
    {
        var image = container.Text("image") ?? "";
        var tagAt = image.LastIndexOf(':');
        var (repository, tag) = tagAt > image.LastIndexOf('/') ? (image[..tagAt], image[(tagAt + 1)..]) : (image, null);
        if (repository != name)
        {
            return;
        }

        var next = newTag ?? tag;
        container["image"] = (newName ?? repository) + (next is null ? "" : ":" + next);
    }

    private static IEnumerable<string> Strings(Dictionary<string, object?> map, string key, string file) =>
        (map.At(key) as List<object?> ?? []).Select(item => item as string ?? throw new InvalidDataException($"{file}: {key} holds a non-string."));
}
