using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Transformation.Cli.Demo;
using Transformation.Directory.Api;
using Transformation.Directory.V1;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Directory.Benchmarks;

/// <summary>
/// Issue 27: a million people through `transform directory import`. Starts PostgreSQL (durable: fsync on) and RabbitMQ as local
/// processes (loopback only), hosts the Directory in this process, writes the organisation of `transform demo organisation`
/// (LargeOrganisation: 6 levels, spans 5-15), then runs the built CLI (tools/Cli, a child process under /usr/bin/time -v) to
/// import it; reports the import's time, rows/s, the peak RSS of the CLI and of the service (this process, its peak reset
/// through /proc/self/clear_refs before the import), how long the outbox takes to publish the events, and SearchEmployees' p50/p95.
/// Usage: dotnet run -c Release --project benchmarks/Directory.Benchmarks -- million [people=1000000] [calls=20]
/// </summary>
public static class MillionBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var people = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var cli = CliPath();
        Console.WriteLine($"Starting PostgreSQL (durable) and RabbitMQ… (machine: {Environment.ProcessorCount} cores, load average {LoadAverage()})");
        await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
        await using var rabbitMq = await RabbitMqServer.StartAsync();
        await rabbitMq.CreateVirtualHostAsync("bench");
        var database = await postgres.CreateDatabaseAsync("directory");
        using var identity = new TestIdentity();
        var settings = identity.Settings.Append(new("Directory:MaxImportBytes", (1 << 30).ToString(CultureInfo.InvariantCulture)));
        var directory = await InProcessService.StartAsync("directory", database, rabbitMq.AmqpUri("bench"), settings,
            b => b.AddDirectoryService(), a => a.MapDirectoryService(), CancellationToken.None);

        var file = new FileInfo(Path.Combine(Path.GetTempPath(), $"directory-million-{people}.csv"));
        try
        {
            var organisation = new LargeOrganisation(people);
            var watch = Stopwatch.StartNew();
            await OrganisationCommand.WriteAsync(organisation, file, null, CancellationToken.None);
            file.Refresh();
            Console.WriteLine($"Generated {organisation.Units:N0} units and {organisation.People:N0} people ({file.Length / 1e6:N0} MB) in {watch.Elapsed.TotalSeconds:0.0} s.");

            GC.Collect();
            await File.WriteAllTextAsync("/proc/self/clear_refs", "5");
            var serviceBefore = Status("VmRSS");
            var loadBefore = LoadAverage();
            var start = new ProcessStartInfo("/usr/bin/time")
            {
                ArgumentList = { "-v", "dotnet", cli, "directory", "import", file.FullName, "--service", directory.Address.ToString(), "--token", identity.TokenFor("hr-1", Roles.Hr) },
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            start.Environment["TERM"] = "dumb";
            watch.Restart();
            using var process = Process.Start(start)!;
            var outputTask = process.StandardOutput.ReadToEndAsync();
            var errorTask = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var seconds = watch.Elapsed.TotalSeconds;
            var (output, error) = (await outputTask, await errorTask);
            var servicePeak = Status("VmHWM");
            var cliPeak = error.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Maximum resident set size", StringComparison.Ordinal))
                ?.Split(':')[1].Trim() is { } kb ? long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0 : double.NaN;
            var rows = organisation.Units + organisation.People;
            Console.WriteLine($"CLI exit {process.ExitCode}; last output: {string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3))}");
            if (process.ExitCode != 0)
            {
                Console.WriteLine(error.Length > 2000 ? error[..2000] : error);
            }

            var stored = await ScalarAsync(database, "SELECT count(*) FROM employees WHERE active");
            Console.WriteLine();
            Console.WriteLine("| people | units | import s | rows/s | employees stored | CLI peak RSS MB | service RSS before MB | service peak RSS MB | load before | load after |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
            Console.WriteLine($"| {organisation.People:N0} | {organisation.Units:N0} | {seconds:0.0} | {rows / seconds:N0} | {stored:N0} | {cliPeak:N0} | {serviceBefore:N0} | {servicePeak:N0} | {loadBefore} | {LoadAverage()} |");

            // The events go out after the commit, through the outbox relay; bounded wait.
            watch.Restart();
            var unsent = await ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL");
            Console.WriteLine($"Outbox: {await ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox"):N0} events, {unsent:N0} unsent at the end of the import.");
            while (unsent > 0 && watch.Elapsed < TimeSpan.FromMinutes(10))
            {
                await Task.Delay(TimeSpan.FromSeconds(10));
                unsent = await ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL");
                Console.WriteLine($"  {watch.Elapsed.TotalSeconds:0} s: {unsent:N0} unsent (load {LoadAverage()})");
            }

            Console.WriteLine($"Outbox published {(unsent == 0 ? "everything" : $"all but {unsent:N0}")} {watch.Elapsed.TotalSeconds:0} s after the import; service RSS now {Status("VmRSS"):N0} MB.");
            return await SearchAsync(directory, identity, calls);
        }
        finally
        {
            file.Delete();
            await directory.App.DisposeAsync();
        }
    }

    private static async Task<int> SearchAsync(InProcessService directory, TestIdentity identity, int calls)
    {
        const int WarmUp = 3;
        using var client = GrpcTestClient.Create(directory.Address);
        var employee = GrpcTestClient.As(identity.TokenFor("e0000042", Roles.Employee), TimeSpan.FromSeconds(30));
        var method = DirectoryReflection.Descriptor.Services[0].FindMethodByName("SearchEmployees");
        Console.WriteLine();
        Console.WriteLine($"| query | found | p50 ms | p95 ms | max ms |   ({calls} calls each after {WarmUp} warm-up, page of 10; load {LoadAverage()})");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        var worst = 0.0;
        foreach (var query in new[] { "an", "emm", "smith", "mary jo", "e0471100", "nicholaus.fah", "aurora", "zz" })
        {
            var times = new List<double>(calls);
            var found = 0;
            for (var i = 0; i < WarmUp + calls; i++)
            {
                var call = Stopwatch.StartNew();
                var response = await client.UnaryAsync<SearchEmployeesRequest, SearchEmployeesResponse>(method,
                    new SearchEmployeesRequest { Query = query, PageSize = 10 }, employee);
                found = response.Employees.Count;
                if (i >= WarmUp)
                {
                    times.Add(call.Elapsed.TotalMilliseconds);
                }
            }

            times.Sort();
            var p95 = Percentile(times, 0.95);
            worst = Math.Max(worst, p95);
            Console.WriteLine($"| {query} | {found} | {Percentile(times, 0.50):0.0} | {p95:0.0} | {times[^1]:0.0} |");
        }

        Console.WriteLine($"Worst p95: {worst:0.0} ms (budget: 1000 ms). Load average after: {LoadAverage()}.");
        return worst < 1000 ? 0 : 1;
    }

    private static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static string CliPath()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Transformation.sln")))
        {
            root = root.Parent;
        }

        var cli = Path.Combine(root?.FullName ?? throw new InvalidOperationException("Not inside the repository."), "tools/Cli/bin/Release/net10.0/Transformation.Cli.dll");
        return File.Exists(cli) ? cli : throw new InvalidOperationException($"Build the CLI first: dotnet build tools/Cli/Cli.csproj -c Release ({cli} is missing).");
    }

    /// <summary>A line of /proc/self/status in MB (VmRSS now, VmHWM the peak since the last reset).</summary>
    private static double Status(string field) =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0).First();

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
