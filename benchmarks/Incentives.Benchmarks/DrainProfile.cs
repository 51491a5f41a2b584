using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace Transformation.Incentives.Benchmarks;

/// <summary>
/// Where a drain's time goes: every database operation of this process (service, outbox relay, actors) from Npgsql's
/// meter and traces, grouped by statement; the CPU time of this process and of the PostgreSQL server's processes.
/// </summary>
public sealed class DrainProfile : IDisposable
{
    private readonly string _postgresDataDirectory;
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _traces;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Count, double Milliseconds)> _statements = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _operations;
    private double _operationSeconds;
    private TimeSpan _serviceCpu;
    private TimeSpan _databaseCpu;

    private DrainProfile(string postgresDataDirectory)
    {
        _postgresDataDirectory = postgresDataDirectory;
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (string.Equals(instrument.Meter.Name, "Npgsql", StringComparison.Ordinal)
                && string.Equals(instrument.Name, "db.client.operation.duration", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            lock (_lock)
            {
                _operations++;
                _operationSeconds += seconds;
            }
        });
        _traces = new ActivityListener
        {
            ShouldListenTo = source => string.Equals(source.Name, "Npgsql", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                var text = (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement"))?.ToString() ?? activity.DisplayName;
                var key = string.Join(' ', text.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));
                key = key.Length > 70 ? key[..70] : key;
                _statements.AddOrUpdate(key, (1, activity.Duration.TotalMilliseconds),
                    (_, s) => (s.Count + 1, s.Milliseconds + activity.Duration.TotalMilliseconds));
            },
        };
    }

    public static DrainProfile Start(string postgresDataDirectory)
    {
        var profile = new DrainProfile(postgresDataDirectory);
        profile._meters.Start();
        ActivitySource.AddActivityListener(profile._traces);
        profile._serviceCpu = Process.GetCurrentProcess().TotalProcessorTime;
        profile._databaseCpu = profile.PostgresCpu();
        return profile;
    }

    public void Stop()
    {
        _serviceCpu = Process.GetCurrentProcess().TotalProcessorTime - _serviceCpu;
        _databaseCpu = PostgresCpu() - _databaseCpu;
        Dispose();
    }

    public void Print(int observations)
    {
        Console.WriteLine($"  profile: {_operations:N0} database operations = {(double)_operations / observations:F2} per observation, " +
            $"{_operationSeconds * 1000 / observations:F3} ms of database time per observation (summed over connections)");
        Console.WriteLine($"  cpu per observation: this process (service, relay, benchmark) {_serviceCpu.TotalMilliseconds / observations:F3} ms, " +
            $"PostgreSQL {_databaseCpu.TotalMilliseconds / observations:F3} ms");
        foreach (var (statement, (count, milliseconds)) in _statements.OrderByDescending(s => s.Value.Milliseconds).Take(10))
        {
            Console.WriteLine($"  {count,8:N0} × {milliseconds / count,8:F3} ms = {milliseconds / observations,7:F3} ms/observation  {statement}");
        }
    }

    public void Dispose()
    {
        _meters.Dispose();
        _traces.Dispose();
    }

    /// <summary>CPU time of the PostgreSQL server's processes (the postmaster and its children), from /proc.</summary>
    private TimeSpan PostgresCpu()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(_postgresDataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        long ticks = 0;
        foreach (var directory in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var pid = int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture);
                if (pid == postmaster || int.Parse(fields[1], CultureInfo.InvariantCulture) == postmaster)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                // Not a process, or it ended meanwhile.
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0);
    }
}
