using System.Diagnostics;

namespace Transformation.Deployment.UnitTests;

/// <summary>Our renderer against the real one: <c>kubectl kustomize</c> (kustomize v4 or later), where kubectl is installed.</summary>
public sealed class KustomizeTests
{
    public static TheoryData<string> Kustomizations() => ["base", "overlays/dev", "overlays/prod"];

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public async Task OurRenderingEqualsKubectlKustomize(string kustomization)
    {
        var kubectl = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "kubectl")).FirstOrDefault(File.Exists);
        // The machine image ships kubectl (Debian's is too old for our overlays): a machine without it fails here, not silently.
        kubectl.ShouldNotBeNull("kubectl is not on PATH: install kubectl 1.27 or later to compare our rendering with kustomize's.");

        var directory = Path.Combine(Repository.K8s, kustomization);
        var start = new ProcessStartInfo(kubectl!, ["kustomize", directory]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        process.ExitCode.ShouldBe(0, await error);

        var theirs = Yaml.ParseAll(await output, "kubectl kustomize").ToDictionary(Key, StringComparer.Ordinal);
        var ours = Kustomize.Render(directory).ToDictionary(Key, StringComparer.Ordinal);

        ours.Keys.Order(StringComparer.Ordinal).ShouldBe(theirs.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, manifest) in ours)
        {
            Yaml.Difference(manifest, theirs[key]).ShouldBeNull(key);
        }
    }

    [Fact]
    public void TheRendererRefusesAFeatureItDoesNotRender()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("kustomize-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "kustomization.yaml"), "resources: []\nnamePrefix: test-\n");
            Should.Throw<NotSupportedException>(() => Kustomize.Render(directory)).Message.ShouldContain("namePrefix");
        }
        finally
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    private static string Key(Dictionary<string, object?> manifest) =>
        $"{manifest.Text("kind")}/{manifest.Text("metadata", "namespace")}/{manifest.Text("metadata", "name")}";
}
