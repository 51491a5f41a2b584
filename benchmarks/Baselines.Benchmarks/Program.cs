using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Baselines.Api;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using BaselinesImport = Transformation.Cli.Baselines.BaselinesImport;

// 1. Responses/s of `transform baselines import` (BaselinesImport.ImportAsync, the command's code path, in-process)
//    streaming a generated CSV into the Baselines service (hosted in-process, real PostgreSQL with fsync on).
// 2. p50/p95 of GetHeatmap (10 dimensions x 50 units, with descendants) over gRPC once the assessment is closed,
//    at each size; the first (cold) call, which builds the suppression tables, is reported separately.
// Usage: dotnet run -c Release --project benchmarks/Baselines.Benchmarks -- [sizes=100000,1000000] [heatmapCalls=50] [batchSize=1000]
var sizes = args.Length > 0 ? args[0].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [100_000, 1_000_000];
var heatmapCalls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
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
using var client = GrpcClient.Create(new Uri($"http://127.0.0.1:{grpcPort}"));
var options = new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + hr } } };

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
    await Call<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
    {
        IdempotencyKey = $"dim-{d}", DimensionId = $"dim-{d}", Fields = new DimensionFields { Name = $"Dimension {d}", Facet = Facet.Values, Scope = InteractionScope.Internal },
    });
    for (var i = 0; i < 2; i++)
    {
        await Call<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
        {
            IdempotencyKey = $"item-{d}-{i}", ItemId = $"item-{d}-{i}", DimensionId = $"dim-{d}", Text = "Statement", ReverseScored = i == 1,
        });
        items.Add($"item-{d}-{i}");
    }
}

var results = new List<(int Size, long Bytes, double ImportSeconds, double Cold, double P50, double P95, double Max)>();
foreach (var size in sizes)
{
    var assessment = $"survey-{size}";
    await Call<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
    {
        IdempotencyKey = assessment, AssessmentId = assessment, Title = assessment, Kind = AssessmentKind.Baseline,
        OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(14)),
        PopulationOrgUnitIds = { "root" }, ItemIds = { items },
    });

    var file = new FileInfo(Path.Combine(Path.GetTempPath(), $"baselines-bench-{size}.csv"));
    Console.WriteLine($"Generating {size:N0} responses as CSV…");
    Generate(file, size, units, items);
    file.Refresh();

    Console.WriteLine($"Importing {file.Length / 1e6:N1} MB through the CLI import (batch size {batchSize})…");
    var stopwatch = Stopwatch.StartNew();
    var result = await BaselinesImport.ImportAsync(file, assessment, client, hr, batchSize, null, CancellationToken.None);
    var importSeconds = stopwatch.Elapsed.TotalSeconds;
    if (!result.Succeeded || result.Accepted != size)
    {
        throw new InvalidOperationException($"The import failed: {string.Join("; ", result.Problems.Take(5))}");
    }

    Console.WriteLine($"  {size / importSeconds:N0} responses/s ({importSeconds:N1} s)");
    var bytes = file.Length;
    file.Delete();
    await Call<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment", new CloseAssessmentRequest { IdempotencyKey = "close-" + assessment, AssessmentId = assessment });

    var heatmap = new GetHeatmapRequest { AssessmentId = assessment, DimensionIds = { Enumerable.Range(0, Dimensions).Select(d => $"dim-{d}") }, OrgUnitIds = { units }, IncludeDescendants = true };
    stopwatch.Restart();
    var first = await Call<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap", heatmap);
    var cold = stopwatch.Elapsed.TotalMilliseconds;
    if (first.Cells.Count != Dimensions * Units || first.Cells.Any(c => c.Suppressed))
    {
        throw new InvalidOperationException($"Unexpected heatmap: {first.Cells.Count} cells, {first.Cells.Count(c => c.Suppressed)} suppressed.");
    }

    var times = new List<double>();
    for (var call = 0; call < heatmapCalls; call++)
    {
        stopwatch.Restart();
        await Call<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap", heatmap);
        times.Add(stopwatch.Elapsed.TotalMilliseconds);
    }

    times.Sort();
    var p50 = times[(int)Math.Ceiling(0.50 * times.Count) - 1];
    var p95 = times[(int)Math.Ceiling(0.95 * times.Count) - 1];
    Console.WriteLine($"  heatmap {Dimensions}x{Units}: cold {cold:N1} ms, p50 {p50:N2} ms, p95 {p95:N2} ms, max {times[^1]:N2} ms over {heatmapCalls} calls");
    results.Add((size, bytes, importSeconds, cold, p50, p95, times[^1]));
}

Console.WriteLine();
Console.WriteLine("| responses | CSV MB | import s | responses/s | heatmap cold ms | heatmap p50 ms | heatmap p95 ms |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {r.Size:N0} | {r.Bytes / 1e6:N1} | {r.ImportSeconds:N1} | {r.Size / r.ImportSeconds:N0} | {r.Cold:N1} | {r.P50:N2} | {r.P95:N2} |"));
}

if (results.Count >= 2)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"p95 ratio {results[^1].Size:N0} / {results[0].Size:N0}: {results[^1].P95 / results[0].P95:N2}; cold ratio: {results[^1].Cold / results[0].Cold:N2}"));
}

await app.StopAsync();
return 0;

Task<TResponse> Call<TRequest, TResponse>(string method, TRequest request)
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse> =>
    client.UnaryAsync<TRequest, TResponse>(BaselinesReflection.Descriptor.Services[0].FindMethodByName(method), request, options);

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

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
