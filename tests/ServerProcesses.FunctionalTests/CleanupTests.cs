using System.Diagnostics;
using System.Reflection;

namespace Transformation.ServerProcesses.FunctionalTests;

/// <summary>Servers never outlive the process that started them, even when it is killed.</summary>
public sealed class CleanupTests
{
    [Fact]
    public async Task ServersOfAKilledProcessStopAndTheNextRunRemovesTheirFolders()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = StartTransformRun();
        string[] runs;
        try
        {
            await WaitForLineAsync(owner, "Ready.", TimeSpan.FromMinutes(2));
            runs = Directory.GetDirectories(RunDirectory.Root, $"run-{owner.Id}-*");
            runs.Length.ShouldBe(3); // one each for PostgreSQL, RabbitMQ and the SMTP server
            runs.Sum(run => RunDirectory.ProcessesMarkedWith(run).Count).ShouldBeGreaterThan(2);
        }
        finally
        {
            owner.Kill(); // SIGKILL: no clean-up code of the owner runs (and, should an assertion fail, nothing outlives the test).
            await owner.WaitForExitAsync(ct);
        }

        await WaitUntilAsync(() => runs.All(run => RunDirectory.ProcessesMarkedWith(run).Count == 0), TimeSpan.FromSeconds(60));
        RunDirectory.SweepStale();
        runs.ShouldAllBe(run => !Directory.Exists(run));
    }

    [Fact]
    public async Task DisposingAServerStopsItsProcessesAndRemovesItsFolder()
    {
        var server = await PostgresServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var run = Path.GetDirectoryName(Path.GetDirectoryName(server.DataDirectory))!;
        RunDirectory.ProcessesMarkedWith(run).ShouldNotBeEmpty();

        await server.DisposeAsync();

        RunDirectory.ProcessesMarkedWith(run).ShouldBeEmpty();
        Directory.Exists(run).ShouldBeFalse();
    }

    private static Process StartTransformRun()
    {
        var cli = typeof(CleanupTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "TransformCli").Value!;
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { cli, "run", "--temporary", "--no-services" })
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info)!;
    }

    private static async Task WaitForLineAsync(Process process, string expected, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var seen = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(cancel.Token) is { } line)
        {
            seen.Add(line);
            if (line.Contains(expected, StringComparison.Ordinal))
            {
                return;
            }
        }

        throw new InvalidOperationException($"'{expected}' never came; output:\n{string.Join('\n', seen)}\n{await process.StandardError.ReadToEndAsync()}");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            waited.Elapsed.ShouldBeLessThan(timeout, "the servers of the killed process are still running");
            await Task.Delay(250);
        }
    }
}
