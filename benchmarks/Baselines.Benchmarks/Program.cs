using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Baselines.Api;
using Transformation.Baselines.Benchmarks;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using BaselinesImport = Transformation.Cli.Baselines.BaselinesImport;

// 1. Responses/s of `transform baselines import` (BaselinesImport.ImportAsync, the command's code path, in-process)
//    streaming a generated CSV into the Baselines service (hosted in-process, real PostgreSQL with fsync on).
// 2. p50/p95 of GetHeatmap (10 dimensions x 50 units, with descendants) over gRPC once the assessment is closed,
//    at each size; the first (cold) call, which builds the suppression tables, is reported separately.
// Usage: dotnet run -c Release --project benchmarks/Baselines.Benchmarks -- [sizes=100000,1000000] [heatmapCalls=50] [batchSize=1000]
// 3. Memory on a bad file of several GB (`-- memory [gigabytes=2.5]`): generates a responses CSV of that size with one bad
//    line near the end (an org unit the service does not know: refused by the service after it staged every row before
//    it), then the same file with a non-UTF-8 byte near the end (refused by the CLI's reader); each runs the real
//    `transform baselines import` (tools/Cli's build, a child process under /usr/bin/time -v) against the service hosted
//    here; reports the problem named, the rows stored (must be 0), and the peak RSS of the CLI and of this process (the
//    service; its peak is reset before each import through /proc/self/clear_refs). The file is deleted afterwards.
// 4. Surveys answered in the product (`-- survey [people=100000] [concurrency=16]`): see SurveyLoad.cs.
var memoryMode = args.Length > 0 && string.Equals(args[0], "memory", StringComparison.Ordinal);
var surveyMode = args.Length > 0 && string.Equals(args[0], "survey", StringComparison.Ordinal);
var gigabytes = memoryMode && args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 2.5;
int[] sizes = memoryMode || surveyMode ? [] : args.Length > 0 ? args[0].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [100_000, 1_000_000];
var heatmapCalls = !memoryMode && !surveyMode && args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
var batchSize = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1000;
const int Dimensions = 10;
const int Units = 50;

Console.WriteLine("Starting PostgreSQL (durable: fsync on) and RabbitMQ…");
await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
await using var rabbitMq = await RabbitMqServer.StartAsync();
await rabbitMq.CreateVirtualHostAsync("bench");
var database = await postgres.CreateDatabaseAsync("baselines");
var amqp = rabbitMq.AmqpUri("bench");
using var identity = new TestIdentity();
var hr = identity.TokenFor("hr-1", Roles.Hr);
var grpcPort = FreePort();

var builder = WebApplication.CreateBuilder();
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
{
    ["Service:Name"] = "baselines",
    ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
    ["Service:HttpPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
    ["Service:BindAddress"] = "localhost",
    ["EventBus:Database"] = database,
    ["EventBus:RabbitMq"] = amqp.ToString(),
});
builder.Configuration.AddInMemoryCollection(identity.Settings);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.AddBaselinesService();
await using var app = builder.Build();
app.MapBaselinesService();
await app.StartAsync();
using var grpcChannel = GrpcChannel.ForAddress(new Uri($"http://127.0.0.1:{grpcPort}"));
var client = new BaselineService.BaselineServiceClient(grpcChannel);
var headers = new Metadata { { "authorization", "Bearer " + hr } };

// The org tree as the Directory publishes it: a root and 50 units.
string[] units = [.. Enumerable.Range(0, Units).Select(u => $"unit-{u:D2}")];
// The service's subscriber declares its queue once it has connected: publish only then (an unbound exchange drops).
while (!(await rabbitMq.QueuesAsync("bench")).Any(q => q.Name.EndsWith("org-unit-changed", StringComparison.Ordinal)))
{
    await Task.Delay(200);
}

await using (var broker = await new ConnectionFactory { Uri = amqp }.CreateConnectionAsync())
await using (var channel = await broker.CreateChannelAsync(new CreateChannelOptions(true, true)))
{
    foreach (var (id, parent) in units.Select(u => (u, "root")).Prepend(("root", "")))
    {
        var cloudEvent = CloudEvent.Create(new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = id, ParentId = parent, Name = id, Version = 1 } },
            "directory", id, "pubsub");
        await channel.BasicPublishAsync(cloudEvent.Topic!, "", false, new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType }, cloudEvent.ToUtf8Json());
    }
}

await using (var connection = new NpgsqlConnection(database))
{
    await connection.OpenAsync();
    while (Convert.ToInt64(await new NpgsqlCommand("SELECT count(*) FROM org_units", connection).ExecuteScalarAsync(), CultureInfo.InvariantCulture) < Units + 1)
    {
        await Task.Delay(100);
    }
}

// 10 dimensions of 2 items each (the second reverse-scored).
var items = new List<string>();
for (var d = 0; d < Dimensions; d++)
{
    await client.DefineDimensionAsync(new DefineDimensionRequest
    {
        IdempotencyKey = $"dim-{d}", DimensionId = $"dim-{d}", Fields = new DimensionFields { Name = $"Dimension {d}", Facet = Facet.Values, Scope = InteractionScope.Internal },
    }, headers);
    for (var i = 0; i < 2; i++)
    {
        await client.DefineItemAsync(new DefineItemRequest
        {
            IdempotencyKey = $"item-{d}-{i}", ItemId = $"item-{d}-{i}", DimensionId = $"dim-{d}", Text = "Statement", ReverseScored = i == 1,
        }, headers);
        items.Add($"item-{d}-{i}");
    }
}

if (memoryMode)
{
    await MemoryAsync();
    await app.StopAsync();
    return 0;
}

if (surveyMode)
{
    var people = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
    var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;
    await SurveyLoad.RunAsync(client, database, identity, headers, units, items, Dimensions, people, concurrency);
    await app.StopAsync();
    return 0;
}

var results = new List<(int Size, long Bytes, double ImportSeconds, double StreamSeconds, double Cold, double P50, double P95, double Max)>();
foreach (var size in sizes)
{
    var assessment = $"survey-{size}";
    await client.CreateAssessmentAsync(new CreateAssessmentRequest
    {
        IdempotencyKey = assessment, AssessmentId = assessment, Title = assessment, Kind = AssessmentKind.Baseline,
        OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(14)),
        PopulationOrgUnitIds = { "root" }, ItemIds = { items },
    }, headers);

    var file = new FileInfo(Path.Combine(Path.GetTempPath(), $"baselines-bench-{size}.csv"));
    Console.WriteLine($"Generating {size:N0} responses as CSV…");
    Generate(file, size, units, items);
    file.Refresh();

    Console.WriteLine($"Importing {file.Length / 1e6:N1} MB through the CLI import (batch size {batchSize})…");
    var stopwatch = Stopwatch.StartNew();
    var streamed = 0.0;
    var length = file.Length;
    var result = await BaselinesImport.ImportAsync(file, assessment, client, hr, batchSize, bytes =>
    {
        // The last message written: what follows is the service's end of stream (duplicate check, insert, commit).
        if (bytes < length)
        {
            streamed = stopwatch.Elapsed.TotalSeconds;
        }
    }, CancellationToken.None);
    var importSeconds = stopwatch.Elapsed.TotalSeconds;
    if (!result.Succeeded || result.Accepted != size)
    {
        throw new InvalidOperationException($"The import failed: {string.Join("; ", result.Problems.Take(5))}");
    }

    Console.WriteLine($"  {size / importSeconds:N0} responses/s ({importSeconds:N1} s: {streamed:N1} s streaming, {importSeconds - streamed:N1} s end of stream and commit)");
    var bytes = file.Length;
    file.Delete();
    await client.CloseAssessmentAsync(new CloseAssessmentRequest { IdempotencyKey = "close-" + assessment, AssessmentId = assessment }, headers);

    var heatmap = new GetHeatmapRequest { AssessmentId = assessment, DimensionIds = { Enumerable.Range(0, Dimensions).Select(d => $"dim-{d}") }, OrgUnitIds = { units }, IncludeDescendants = true };
    stopwatch.Restart();
    var first = await client.GetHeatmapAsync(heatmap, headers);
    var cold = stopwatch.Elapsed.TotalMilliseconds;
    if (first.Cells.Count != Dimensions * Units || first.Cells.Any(c => c.Suppressed))
    {
        throw new InvalidOperationException($"Unexpected heatmap: {first.Cells.Count} cells, {first.Cells.Count(c => c.Suppressed)} suppressed.");
    }

    var times = new List<double>();
    for (var call = 0; call < heatmapCalls; call++)
    {
        stopwatch.Restart();
        await client.GetHeatmapAsync(heatmap, headers);
        times.Add(stopwatch.Elapsed.TotalMilliseconds);
    }

    times.Sort();
    var p50 = times[(int)Math.Ceiling(0.50 * times.Count) - 1];
    var p95 = times[(int)Math.Ceiling(0.95 * times.Count) - 1];
    Console.WriteLine($"  heatmap {Dimensions}x{Units}: cold {cold:N1} ms, p50 {p50:N2} ms, p95 {p95:N2} ms, max {times[^1]:N2} ms over {heatmapCalls} calls");
    results.Add((size, bytes, importSeconds, streamed, cold, p50, p95, times[^1]));
}

Console.WriteLine();
Console.WriteLine("| responses | CSV MB | import s (streaming + end) | responses/s | heatmap cold ms | heatmap p50 ms | heatmap p95 ms |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {r.Size:N0} | {r.Bytes / 1e6:N1} | {r.ImportSeconds:N1} ({r.StreamSeconds:N1} + {r.ImportSeconds - r.StreamSeconds:N1}) | {r.Size / r.ImportSeconds:N0} | {r.Cold:N1} | {r.P50:N2} | {r.P95:N2} |"));
}

if (results.Count >= 2)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"p95 ratio {results[^1].Size:N0} / {results[0].Size:N0}: {results[^1].P95 / results[0].P95:N2}; cold ratio: {results[^1].Cold / results[0].Cold:N2}"));
}

await app.StopAsync();
return 0;

static void Generate(FileInfo file, int size, string[] units, List<string> items)
{
    string[] tenures = ["0-2", "3-9", "10+"], roles = ["ic", "lead", "manager"], locations = ["berlin", "lisbon", "madrid", "remote"];
    var random = new Random(size);
    using var writer = new StreamWriter(file.FullName, false, new UTF8Encoding(false), 1 << 20);
    writer.Write("respondent_token,org_unit_id,tenure_band,role_level,location,");
    writer.WriteLine(string.Join(',', items));
    var line = new StringBuilder(128);
    for (var n = 0; n < size; n++)
    {
        line.Clear();
        line.Append("r-").Append(n.ToString("D8", CultureInfo.InvariantCulture)).Append('-').Append(random.Next().ToString("x8", CultureInfo.InvariantCulture))
            .Append(',').Append(units[random.Next(units.Length)]).Append(',').Append(tenures[random.Next(3)]).Append(',').Append(roles[random.Next(3)])
            .Append(',').Append(locations[random.Next(4)]);
        for (var i = 0; i < items.Count; i++)
        {
            line.Append(',');
            // About one answer in twenty is left empty.
            var answer = random.Next(20) == 0 ? 0 : 1 + random.Next(5);
            if (answer > 0)
            {
                line.Append((char)('0' + answer));
            }
        }

        writer.WriteLine(line);
    }
}

async Task MemoryAsync()
{
    var root = new DirectoryInfo(AppContext.BaseDirectory);
    while (root is not null && !File.Exists(Path.Combine(root.FullName, "Transformation.sln")))
    {
        root = root.Parent;
    }

    var cli = Path.Combine(root?.FullName ?? throw new InvalidOperationException("Not inside the repository."), "tools/Cli/bin/Release/net10.0/Transformation.Cli.dll");
    if (!File.Exists(cli))
    {
        throw new InvalidOperationException($"Build the CLI first: dotnet build tools/Cli/Cli.csproj -c Release ({cli} is missing).");
    }

    var file = new FileInfo(Path.Combine(Path.GetTempPath(), "baselines-bench-memory.csv"));
    var target = (long)(gigabytes * 1e9);
    try
    {
        Console.WriteLine("| case | CSV GB | rows | import s | exit | problem named | rows stored | CLI peak RSS MB | service peak RSS MB (before) |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |");
        foreach (var (name, bad, unknownUnit) in new[] { ("unknown org unit (service refuses)", "unit", true), ("non-UTF-8 byte (CLI refuses)", "utf8", false) })
        {
            var assessment = "memory-" + bad;
            await client.CreateAssessmentAsync(new CreateAssessmentRequest
            {
                IdempotencyKey = assessment, AssessmentId = assessment, Title = assessment, Kind = AssessmentKind.Baseline,
                OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(14)),
                PopulationOrgUnitIds = { "root" }, ItemIds = { items },
            }, headers);
            Console.Error.WriteLine($"Generating {gigabytes:N1} GB with a bad line near the end ({bad})…");
            var (rows, badLine) = GenerateLarge(file, target, units, items, unknownUnit);
            file.Refresh();

            GC.Collect();
            await File.WriteAllTextAsync("/proc/self/clear_refs", "5");
            var serviceBefore = Status("VmRSS");
            var start = new ProcessStartInfo("/usr/bin/time")
            {
                ArgumentList = { "-v", "dotnet", cli, "baselines", "import", file.FullName, "--assessment", assessment, "--service", $"http://127.0.0.1:{grpcPort}", "--token", hr },
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            start.Environment["TERM"] = "dumb";
            var stopwatch = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            var outputTask = process.StandardOutput.ReadToEndAsync();
            var errorTask = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var seconds = stopwatch.Elapsed.TotalSeconds;
            var (output, error) = (await outputTask, await errorTask);
            var servicePeak = Status("VmHWM");
            var cliPeak = error.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Maximum resident set size", StringComparison.Ordinal))
                ?.Split(':')[1].Trim() is { } kb ? long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0 : double.NaN;
            long stored;
            await using (var connection = new NpgsqlConnection(database))
            {
                await connection.OpenAsync();
                stored = Convert.ToInt64(await new NpgsqlCommand($"SELECT count(*) FROM responses WHERE assessment_id = '{assessment}'", connection).ExecuteScalarAsync(),
                    CultureInfo.InvariantCulture);
            }

            var problemLine = output.Split('\n').FirstOrDefault(l => l.Contains(badLine.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))?.Trim() ?? "(none)";
            Console.Error.WriteLine(output);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {file.Length / 1e9:N2} | {rows:N0} (bad: line {badLine:N0}) | {seconds:N0} | {process.ExitCode} | {Markup(problemLine)} | {stored} | {cliPeak:N0} | {servicePeak:N0} ({serviceBefore:N0}) |"));
            file.Delete();
        }
    }
    finally
    {
        file.Delete();
    }
}

static string Markup(string line) => string.Join(' ', line.Split(['│', '┃', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

static double Status(string field) =>
    File.ReadLines("/proc/self/status").Where(l => l.StartsWith(field + ":", StringComparison.Ordinal))
        .Select(l => long.Parse(l.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0).First();

// Rows of about 440 bytes (200-character tokens, long attribute values) so that a file of several GB has millions, not
// tens of millions, of rows: the import streams all but the last few before the bad one.
static (long Rows, long BadLine) GenerateLarge(FileInfo file, long bytes, string[] units, List<string> items, bool unknownUnit)
{
    string[] tenures = ["0-2-years-of-service-counted-from-the-first-contract", "3-9-years", "10-or-more"];
    string[] roles = ["individual-contributor-without-people-responsibilities", "lead", "manager"];
    string[] locations = ["berlin-headquarters-building-north-wing-third-floor-open-space", "lisbon", "madrid", "remote"];
    var random = new Random(7);
    using var stream = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    var header = Encoding.UTF8.GetBytes("respondent_token,org_unit_id,tenure_band,role_level,location," + string.Join(',', items) + "\n");
    stream.Write(header);
    var padding = new string('x', 170);
    var line = new StringBuilder(512);
    long rows = 0, badLine = 0;
    var buffer = new byte[2048];
    while (stream.Position < bytes)
    {
        rows++;
        var lineNumber = rows + 1;
        var nearEnd = badLine == 0 && stream.Position > bytes - 10_000_000;
        line.Clear();
        line.Append("r-").Append(rows.ToString("D10", CultureInfo.InvariantCulture)).Append('-').Append(random.Next().ToString("x8", CultureInfo.InvariantCulture))
            .Append('-').Append(padding).Append(',').Append(nearEnd && unknownUnit ? "unit-unknown" : units[random.Next(units.Length)])
            .Append(',').Append(tenures[random.Next(3)]).Append(',').Append(roles[random.Next(3)]).Append(',');
        var count = Encoding.UTF8.GetBytes(line.ToString(), buffer);
        if (nearEnd && !unknownUnit)
        {
            buffer[count++] = 0xC3; // a lead byte without its continuation: not UTF-8
        }

        line.Clear().Append(locations[random.Next(4)]);
        for (var i = 0; i < items.Count; i++)
        {
            line.Append(',').Append((char)('1' + random.Next(5)));
        }

        line.Append('\n');
        count += Encoding.UTF8.GetBytes(line.ToString(), buffer.AsSpan(count));
        stream.Write(buffer, 0, count);
        if (nearEnd)
        {
            badLine = lineNumber;
        }
    }

    return (rows, badLine);
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
