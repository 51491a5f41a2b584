using System.Diagnostics;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Runs Debian's /usr/bin/python3, which has python3-grpcio (the C core), on a script next to the tests.</summary>
public static class PythonProcess
{
    public const string Interpreter = "/usr/bin/python3";

    public static Process Start(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo(Interpreter)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Path.Combine(AppContext.BaseDirectory, "Python"),
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
    }

    /// <summary>Runs a script to its end and returns its standard output; fails with its standard error.</summary>
    public static async Task<string> RunAsync(string script, params string[] arguments)
    {
        using var process = Start(script, arguments);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode == 0
            ? await output
            : throw new InvalidOperationException($"{script} exited with {process.ExitCode}: {await error}");
    }
}
