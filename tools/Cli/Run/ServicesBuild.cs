using System.Diagnostics;
using System.Text;

namespace Transformation.Cli.Run;

/// <summary>
/// `transform run --build`: the Release build of the services and the portal (Transformation.Run.slnf), run while PostgreSQL and
/// RabbitMQ start, so a first run does not wait for the one before starting the other.
/// </summary>
public static class ServicesBuild
{
    /// <summary>
    /// The properties ./dev.sh builds the CLI with, so the CLI's own projects are up to date here and nothing under the running CLI is
    /// rewritten. Analyzers are for the test build; the compiler server serves every project of the build from one warm process.
    /// </summary>
    public static readonly string[] Arguments = ["-c", "Release", "-nologo", "-v", "quiet", "-p:RunAnalyzers=false", "-p:UseSharedCompilation=true"];

    public static string SolutionFilter => Path.Combine(LocalServices.RepositoryRoot, "Transformation.Run.slnf");

    /// <summary>Builds; throws with the build's errors (or the end of its output) when it fails.</summary>
    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = LocalServices.RepositoryRoot,
        };
        foreach (var argument in new[] { "build", SolutionFilter }.Concat(Arguments))
        {
            info.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string text;
        lock (output)
        {
            text = output.ToString();
        }

        if (process.ExitCode != 0)
        {
            var errors = text.Split('\n').Where(line => line.Contains(": error ", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).Take(20).ToList();
            throw new InvalidOperationException(
                $"The build of {SolutionFilter} failed (exit code {process.ExitCode}):{Environment.NewLine}" +
                string.Join(Environment.NewLine, errors.Count > 0 ? errors : text.Split('\n').TakeLast(20)));
        }

        void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }
    }
}
