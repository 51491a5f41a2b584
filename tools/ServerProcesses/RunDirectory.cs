using System.Globalization;

namespace Transformation.ServerProcesses;

/// <summary>
/// A temporary folder owned by this process, under one root per user. Every server started in it
/// carries the folder's path in its environment, so that a later run can find and stop the servers
/// of a run that was killed before it could clean up, and then remove the folder.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    public const string EnvironmentMarker = "TRANSFORMATION_SERVER_RUN";
    private const string OwnerFile = "owner";

    private RunDirectory(string path) => Path = path;

    public string Path { get; }

    public static string Root => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"transformation-servers-{Libc.EffectiveUserId}");

    /// <summary>Removes what killed runs left behind, then creates a fresh folder for this process.</summary>
    public static RunDirectory Create()
    {
        Directory.CreateDirectory(Root);
        SweepStale();
        var path = System.IO.Path.Combine(Root, $"run-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(path);
        // Servers running under another user (PostgreSQL as 'postgres') must be able to traverse it.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.WriteAllText(System.IO.Path.Combine(path, OwnerFile), OwnerIdentity(Environment.ProcessId));
        return new RunDirectory(path);
    }

    public string Subdirectory(string name)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public void Dispose()
    {
        KillProcessesMarkedWith(Path);
        DeleteQuietly(Path);
    }

    /// <summary>Stops the servers of runs whose owning process is gone and deletes their folders.</summary>
    public static int SweepStale()
    {
        if (!Directory.Exists(Root))
        {
            return 0;
        }

        var swept = 0;
        foreach (var run in Directory.EnumerateDirectories(Root, "run-*"))
        {
            if (OwnerAlive(run))
            {
                continue;
            }

            KillProcessesMarkedWith(run);
            DeleteQuietly(run);
            swept++;
        }

        return swept;
    }

    /// <summary>Process ids of live processes started for the given run folder.</summary>
    public static IReadOnlyList<int> ProcessesMarkedWith(string runPath)
    {
        var marker = $"{EnvironmentMarker}={runPath}\0";
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if ((File.ReadAllText(System.IO.Path.Combine(dir, "environ")) + "\0").Contains(marker, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to read.
            }
        }

        return found;
    }

    private static void KillProcessesMarkedWith(string runPath)
    {
        foreach (var pid in ProcessesMarkedWith(runPath))
        {
            Libc.Signal(pid, Libc.SIGKILL);
        }
    }

    private static bool OwnerAlive(string runPath)
    {
        string recorded;
        try
        {
            recorded = File.ReadAllText(System.IO.Path.Combine(runPath, OwnerFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No owner file yet: a run being created right now is younger than a minute.
            return Directory.GetCreationTimeUtc(runPath) > DateTime.UtcNow.AddMinutes(-1);
        }

        if (!int.TryParse(recorded.Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        try
        {
            return string.Equals(OwnerIdentity(pid), recorded, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // No such process any more.
        }
    }

    /// <summary>The pid and its start time (field 22 of /proc/pid/stat), so a reused pid is not taken for the owner.</summary>
    private static string OwnerIdentity(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return $"{pid} {fields[19]}";
    }

    private static void DeleteQuietly(string path)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }

                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(100); // A dying server may still be writing its last files.
            }
        }
    }
}
