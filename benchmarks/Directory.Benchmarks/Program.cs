using System.Diagnostics;
using System.Globalization;
using Transformation.Directory.Api;
using Transformation.Directory.V1;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

// Issue 23, acceptance 5: a people picker finds a person by typing part of a name in an organisation of 100,000 people in
// under a second. Starts PostgreSQL and RabbitMQ as local processes (loopback only), hosts the Directory in this process,
// imports `people` employees in 50 units through ImportDirectory, then times SearchEmployees over gRPC (the call the
// portal's PersonPicker makes, a page of 10) for parts of names, ids and emails: `calls` timed calls per query after warm-up.
// Usage: dotnet run -c Release --project benchmarks/Directory.Benchmarks [people=100000] [calls=50]
// Issue 27, a million people imported through the CLI: `-- million [people] [calls]` (MillionBenchmark.cs).
if (args.Length > 0 && string.Equals(args[0], "million", StringComparison.Ordinal))
{
    return await Transformation.Directory.Benchmarks.MillionBenchmark.RunAsync(args[1..]);
}

var people = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
const int WarmUp = 3;

Console.WriteLine($"Starting PostgreSQL and RabbitMQ… (machine: {Environment.ProcessorCount} cores, load average {LoadAverage()})");
await using var postgres = await PostgresServer.StartAsync();
await using var rabbitMq = await RabbitMqServer.StartAsync();
await rabbitMq.CreateVirtualHostAsync("bench");
var database = await postgres.CreateDatabaseAsync("directory");
using var identity = new TestIdentity();
var directory = await InProcessService.StartAsync("directory", database, rabbitMq.AmqpUri("bench"), identity.Settings,
    b => b.AddDirectoryService(), a => a.MapDirectoryService(), CancellationToken.None);
using var client = GrpcTestClient.Create(directory.Address);

string[] first = ["Anna", "Ben", "Carla", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karin", "Lars", "Maja", "Nils", "Olga", "Paul",
    "Rita", "Sven", "Tove", "Ulf", "Vera", "Wim", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Chen", "Dara", "Elif"];
string[] syllables = ["berg", "lund", "strom", "holm", "dahl", "vik", "gren", "sten", "ros", "kvist", "mark", "fors", "hag", "ness", "by", "wall"];
string Surname(int i) => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(syllables[i % 16] + syllables[i / 16 % 16] + syllables[i / 256 % 16]);

var units = Enumerable.Range(0, 50).Select(u => new ImportOrgUnitRow
{
    Line = u + 2, OrgUnitId = u == 0 ? "org" : $"unit-{u:D2}", Name = u == 0 ? "Organisation" : $"Unit {u:D2}", ParentId = u == 0 ? "" : "org",
    Kind = u == 0 ? OrgUnitKind.Organisation : OrgUnitKind.Department,
}).ToList();
var employees = Enumerable.Range(0, people).Select(i => new ImportEmployeeRow
{
    Line = i + 2, EmployeeId = $"p{i:D6}", DisplayName = $"{first[i % first.Length]} {Surname(i / first.Length)}", Email = $"p{i:D6}@example.test",
    OrgUnitId = units[1 + i % 49].OrgUnitId, ManagerId = i < 49 ? "" : $"p{i % 49:D6}", Roles = { Role.Employee },
});
var messages = new List<ImportDirectoryRequest> { new() { Options = new ImportOptions { IdempotencyKey = "bench" } }, new() { OrgUnits = { units } } };
messages.AddRange(employees.Chunk(500).Select(chunk => new ImportDirectoryRequest { Employees = { chunk } }));
var hr = GrpcTestClient.As(identity.TokenFor("hr-1", Roles.Hr), TimeSpan.FromMinutes(30));
var watch = Stopwatch.StartNew();
var imported = await client.ClientStreamAsync<ImportDirectoryRequest, ImportDirectoryResponse>(Method("ImportDirectory"), messages, hr);
Console.WriteLine($"Imported {people:N0} people in 50 units in {watch.Elapsed.TotalSeconds:0.0} s ({imported.Changes.Count:N0} changes).");
Console.WriteLine();
Console.WriteLine($"{"query",-14} {"found",6} {"p50 ms",7} {"p95 ms",7} {"max ms",7}   ({calls} calls each after {WarmUp} warm-up, page of 10)");

var employee = GrpcTestClient.As(identity.TokenFor("p000001", Roles.Employee), TimeSpan.FromSeconds(30));
var worst = 0.0;
foreach (var query in new[] { "an", "emm", "berglund", "holmvik", "rita ros", "p04711", "p099999@exa", "zz" })
{
    var times = new List<double>(calls);
    var found = 0;
    for (var i = 0; i < WarmUp + calls; i++)
    {
        var call = Stopwatch.StartNew();
        var response = await client.UnaryAsync<SearchEmployeesRequest, SearchEmployeesResponse>(Method("SearchEmployees"),
            new SearchEmployeesRequest { Query = query, PageSize = 10 }, employee);
        call.Stop();
        found = response.Employees.Count;
        if (i >= WarmUp)
        {
            times.Add(call.Elapsed.TotalMilliseconds);
        }
    }

    times.Sort();
    worst = Math.Max(worst, Percentile(times, 0.95));
    Console.WriteLine($"{query,-14} {found,6} {Percentile(times, 0.50),7:0.0} {Percentile(times, 0.95),7:0.0} {times[^1],7:0.0}");
}

Console.WriteLine();
Console.WriteLine($"Worst p95: {worst:0.0} ms (budget: 1000 ms). Load average after: {LoadAverage()}.");
await directory.App.DisposeAsync();
return worst < 1000 ? 0 : 1;

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

static Google.Protobuf.Reflection.MethodDescriptor Method(string name) => DirectoryReflection.Descriptor.Services[0].FindMethodByName(name);

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
