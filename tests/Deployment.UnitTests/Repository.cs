namespace Transformation.Deployment.UnitTests;

/// <summary>Paths in the repository this test was built from, and the deployable projects found in it.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string K8s => Path.Combine(Root, "k8s");

    public static string Overlay(string name) => Path.Combine(K8s, "overlays", name);

    /// <summary>
    /// Every deployable project: services/&lt;Name&gt;.Api and services/Portal.Web. Its app id (the manifests' names) is
    /// the first part of the folder name in lower case: Directory.Api → directory, Portal.Web → portal.
    /// </summary>
    public static IReadOnlyList<(string AppId, string ProjectDirectory)> DeployableProjects() =>
        System.IO.Directory.GetDirectories(Path.Combine(Root, "services"))
            .Where(directory => Path.GetFileName(directory) is var name && (name.EndsWith(".Api", StringComparison.Ordinal) || name == "Portal.Web"))
            .Where(directory => System.IO.Directory.GetFiles(directory, "*.csproj").Length == 1)
            .Select(directory => (Path.GetFileName(directory).Split('.')[0].ToLowerInvariant(), directory))
            .OrderBy(project => project.Item1, StringComparer.Ordinal)
            .ToList();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Transformation.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Transformation.sln above {AppContext.BaseDirectory}.");
    }
}
