using System.Diagnostics;
using System.Globalization;

namespace Transformation.Initiatives.Benchmarks;

/// <summary>
/// CPU time (user + system, from /proc) of the three parties of a part: this process (both services, their relays and
/// subscribers, the benchmark's client and probes), the PostgreSQL server (the postmaster and its children) and the RabbitMQ
/// node (every other descendant of this process: the broker's script, the Erlang VM and its helpers). Other tenants of the
/// machine are not counted.
/// </summary>
public sealed class CpuMeter(string postgresDataDirectory)
{
    private (TimeSpan Process, TimeSpan Postgres, TimeSpan RabbitMq, long Wall) _start;

    public void Start() => _start = Read();

    /// <summary>"this process 1.23 ms, PostgreSQL …, RabbitMQ … per observation; cores used …" since <see cref="Start"/>.</summary>
    public string Since(int observations)
    {
        var now = Read();
        var wall = Stopwatch.GetElapsedTime(_start.Wall, now.Wall).TotalSeconds;
        var (process, postgres, rabbit) = (now.Process - _start.Process, now.Postgres - _start.Postgres, now.RabbitMq - _start.RabbitMq);
        return string.Create(CultureInfo.InvariantCulture,
            $"CPU per observation: this process {process.TotalMilliseconds / observations:F3} ms, PostgreSQL {postgres.TotalMilliseconds / observations:F3} ms, " +
            $"RabbitMQ {rabbit.TotalMilliseconds / observations:F3} ms; cores used over {wall:F1} s: {process.TotalSeconds / wall:F2} + " +
            $"{postgres.TotalSeconds / wall:F2} + {rabbit.TotalSeconds / wall:F2} = {(process + postgres + rabbit).TotalSeconds / wall:F2} of {Environment.ProcessorCount}");
    }

    private (TimeSpan Process, TimeSpan Postgres, TimeSpan RabbitMq, long Wall) Read()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(postgresDataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        var processes = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var directory in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                processes[pid] = (int.Parse(fields[1], CultureInfo.InvariantCulture),
                    long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                // It ended meanwhile.
            }
        }

        long postgres = 0, rabbit = 0;
        foreach (var (pid, (parent, ticks)) in processes)
        {
            if (pid == postmaster || parent == postmaster)
            {
                postgres += ticks;
            }
            else if (DescendsFromThisProcess(pid, processes))
            {
                rabbit += ticks;
            }
        }

        using var self = Process.GetCurrentProcess();
        return (self.TotalProcessorTime, TimeSpan.FromSeconds(postgres / 100.0), TimeSpan.FromSeconds(rabbit / 100.0), Stopwatch.GetTimestamp());
    }

    private static bool DescendsFromThisProcess(int pid, Dictionary<int, (int Parent, long Ticks)> processes)
    {
        for (var (current, depth) = (pid, 0); depth < 64 && processes.TryGetValue(current, out var process); depth++)
        {
            if (process.Parent == Environment.ProcessId)
            {
                return true;
            }

            current = process.Parent;
        }

        return false;
    }
}
