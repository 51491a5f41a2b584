using System.Diagnostics;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;

namespace Transformation.TestSupport;

/// <summary>
/// The fixtures' servers as containers, through Testcontainers on the machine's Docker engine, from the images
/// tools/images/build.sh makes from Debian packages. Without an engine the fixtures start server processes instead.
/// </summary>
public static class ServerContainers
{
    /// <summary>Every container of the tests carries it; its value is the test run (TRANSFORMATION_TEST_RUN, set by dev.sh).</summary>
    public const string RunLabel = "transformation.test-run";

    private static readonly Lazy<bool> Enabled = new(Decide);

    /// <summary>
    /// True when the fixtures start containers: a Docker engine answers, unless TRANSFORMATION_TEST_SERVERS=processes
    /// asks for server processes (TRANSFORMATION_TEST_SERVERS=containers insists on containers).
    /// </summary>
    public static bool InUse => Enabled.Value;

    /// <summary>
    /// Starts a container of one of our images on the host network, labelled as ours, and waits until <paramref name="ready"/>
    /// (a probe of its loopback port: with host networking no port is mapped) answers true, within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<IContainer> StartAsync(
        string image, Func<ContainerBuilder, ContainerBuilder> configure, Func<CancellationToken, Task<bool>> ready, TimeSpan timeout)
    {
        var builder = new ContainerBuilder(Image(image))
            .WithLabel(RunLabel, Environment.GetEnvironmentVariable("TRANSFORMATION_TEST_RUN") ?? "manual")
            .WithCreateParameterModifier(parameters => parameters.HostConfig!.NetworkMode = "host")
            .WithWaitStrategy(Wait.ForUnixContainer().AddCustomWaitStrategy(new Probe(ready), wait => wait.WithTimeout(timeout)));
        var container = configure(builder).Build();
        try
        {
            await container.StartAsync();
            return container;
        }
        catch (Exception e) when (e is TimeoutException or ContainerNotRunningException)
        {
            var (output, errors) = await container.GetLogsAsync();
            await container.DisposeAsync();
            throw new InvalidOperationException($"The {image} container did not become ready within {timeout.TotalSeconds:0} s:\n{Tail(output + errors)}", e);
        }
        catch
        {
            await container.DisposeAsync();
            throw;
        }
    }

    /// <summary>The image's tag (transformation/NAME:HASH); tools/images/build.sh builds it first when this machine lacks it.</summary>
    private static string Image(string name)
    {
        var script = Path.Combine(RepositoryRoot(), "tools", "images", "build.sh");
        var info = new ProcessStartInfo(script, [name]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var build = Process.Start(info)!;
        var errors = build.StandardError.ReadToEndAsync();
        var output = build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"tools/images/build.sh {name} failed ({build.ExitCode}):\n{errors.Result}");
        }

        return output.Trim().Split('\n')[^1];
    }

    private static bool Decide()
    {
        var asked = Environment.GetEnvironmentVariable("TRANSFORMATION_TEST_SERVERS");
        if (string.Equals(asked, "processes", StringComparison.Ordinal))
        {
            return false;
        }

        // Debian's docker.io speaks API 1.41, older than the one Testcontainers asks for by default; Ryuk's image cannot be
        // pulled (no registry), so the fixtures remove their own containers and dev.sh sweeps by label what a killed run left.
        Environment.SetEnvironmentVariable("DOCKER_API_VERSION", Environment.GetEnvironmentVariable("DOCKER_API_VERSION") ?? "1.41");
        Environment.SetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED", "true");
        return string.Equals(asked, "containers", StringComparison.Ordinal) || TestcontainersSettings.OS.DockerEndpointAuthConfig is not null;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Transformation.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Transformation.sln above {AppContext.BaseDirectory}: the image scripts are not found.");
    }

    private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(30));

    private sealed class Probe(Func<CancellationToken, Task<bool>> ready) : IWaitUntil
    {
        public Task<bool> UntilAsync(IContainer container) => ready(CancellationToken.None);
    }
}
