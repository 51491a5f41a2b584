using System.Diagnostics;

namespace Transformation.ServerProcesses;

/// <summary>
/// A server process in a process group of its own, watched by a small shell monitor that stops the
/// whole group when the process that started it dies (even by SIGKILL), so no server outlives its owner.
/// </summary>
public sealed class SupervisedProcess
{
    // Runs as the group leader: forks a monitor, then becomes the server with exec.
    // $1 owner pid, $2 signal for a graceful stop, $3 log file, then the server's command line.
    private const string Watchdog = """
        owner="$1"; signal="$2"; log="$3"; shift 3
        (
          while kill -0 "$owner" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 0.5; done
          if kill -0 $$ 2>/dev/null; then
            kill -s "$signal" $$ 2>/dev/null
            i=0; while kill -0 $$ 2>/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i+1)); done
          fi
          kill -KILL 0
        ) >/dev/null 2>&1 </dev/null &
        exec "$@" >>"$log" 2>&1 </dev/null
        """;

    private readonly Process _process;

    private SupervisedProcess(Process process, string logFile)
    {
        _process = process;
        LogFile = logFile;
    }

    public int ProcessGroupId => _process.Id;

    public string LogFile { get; }

    public bool HasExited => _process.HasExited;

    public static SupervisedProcess Start(
        string[] commandLine, string gracefulSignal, string logFile, string runPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(Prerequisites.RequireOnPath("setsid", "util-linux"))
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        };
        foreach (var arg in new[] { "/bin/sh", "-c", Watchdog, "watchdog", Environment.ProcessId.ToString(), gracefulSignal, logFile }.Concat(commandLine))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment[RunDirectory.EnvironmentMarker] = runPath;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>(StringComparer.Ordinal))
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {commandLine[0]}.");
        return new SupervisedProcess(process, logFile);
    }

    /// <summary>Sends the signal to the server itself (not its group), for a graceful stop.</summary>
    public void Signal(int signal) => Libc.Signal(_process.Id, signal);

    /// <summary>Asks the server to stop (SIGTERM), as a service manager would.</summary>
    public void Terminate() => Signal(Libc.SIGTERM);

    /// <summary>Sends the signal to every process of the group.</summary>
    public void SignalGroup(int signal) => Libc.Signal(-_process.Id, signal);

    /// <summary>Waits until every process of the group has exited; kills the group when the wait runs out.</summary>
    public async Task WaitForGroupExitAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Libc.GroupAlive(ProcessGroupId))
        {
            if (deadline.Elapsed > timeout)
            {
                SignalGroup(Libc.SIGKILL);
                timeout = TimeSpan.MaxValue;
            }

            await Task.Delay(50);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    public async Task KillAsync()
    {
        SignalGroup(Libc.SIGKILL);
        await WaitForGroupExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Polls <paramref name="answers"/> every 100 ms until the server answers; throws, with the log's tail, if the process
    /// exits first or 30 s pass.
    /// </summary>
    public async Task WaitUntilAnswersAsync(string server, int port, Func<CancellationToken, Task<bool>> answers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(answers);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (HasExited)
            {
                throw new InvalidOperationException($"{server} exited while starting on port {port}:\n{LogTail()}");
            }

            if (await answers(cancellationToken))
            {
                return;
            }

            if (waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"{server} did not answer on port {port} within 30 s:\n{LogTail()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    public string LogTail(int lines = 30)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogFile).TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
