using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using RabbitMQ.Client;
using Transformation.EventBus;
using Transformation.Incentives.Api;
using Transformation.Incentives.Benchmarks;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

// 1. Observations evaluated per second by the BehaviourObserved subscriber (a delivery batch per handler call, evaluated in
//    its inbox transaction: ledger actors, budget charges, outcome rows, RewardGranted + RecognitionPublished through the
//    outbox), draining a queue filled beforehand; with a profile of the drain (database operations and their time by
//    statement, CPU of this process and of PostgreSQL). (The "evaluation alone" mode went with the observation queue:
//    the subscriber now is the evaluation.)
// 2. p95 of GetEmployeeFeed over gRPC for an employee with a year of demo data in a database of many employees.
// Usage: dotnet run -c Release --project benchmarks/Incentives.Benchmarks [observations=50000] [employees=5000] [feedCalls=1000] [budget|nobudget]
var observations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var employees = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5_000;
var feedCalls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1_000;
// "nobudget": no unit has a budget, so no observation takes the budget row lock.
var withBudget = args.Length <= 3 || !string.Equals(args[3], "nobudget", StringComparison.Ordinal);

Console.WriteLine($"Starting PostgreSQL (durable: fsync on) and RabbitMQ… (load average: {LoadAverage()})");
await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
await using var rabbitMq = await RabbitMqServer.StartAsync();
await rabbitMq.CreateVirtualHostAsync("bench");
var database = await postgres.CreateDatabaseAsync("incentives");
var amqp = rabbitMq.AmqpUri("bench");
using var identity = new TestIdentity();
var hr = identity.TokenFor("hr-1", Roles.Hr);

// Topology and rules: a first start declares the queue; rules are set over gRPC.
var (app, client) = await StartAsync();
await client.UnaryAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>(Method("UpdateIncentiveRules"), new UpdateIncentiveRulesRequest
{
    IdempotencyKey = "rules",
    Rules = new IncentiveRules
    {
        Period = PeriodKind.Month,
        SourcePoints = { new SourcePoints { Source = ObservationSource.SystemIntegration, Points = 10 }, new SourcePoints { Source = ObservationSource.Manager, Points = 10 } },
        CapPerEmployee = 1_000_000,
        Badges = { new BadgeRule { BadgeId = "b100", Name = "Hundred", Threshold = 100 } },
        ObservationsPublic = true,
    },
}, Options(hr));
await client.UnaryAsync<DefineBehaviourRequest, DefineBehaviourResponse>(Method("DefineBehaviour"), new DefineBehaviourRequest
{
    IdempotencyKey = "define", BehaviourId = "helps-customers",
    Behaviour = new BehaviourDraft { Name = "Helps customers", Description = "Goes out of their way for a customer", Polarity = Polarity.Desired },
}, Options(hr));
await client.UnaryAsync<SetBudgetRequest, SetBudgetResponse>(Method("SetBudget"), new SetBudgetRequest
{
    IdempotencyKey = "budget", OrgUnitId = withBudget ? "unit-0" : "no-such-unit", Period = Transformation.Incentives.Api.Model.Period.Of(PeriodKind.Month, DateTimeOffset.UtcNow), Amount = Transformation.Incentives.Api.Model.RuleSet.MaxPoints,
}, Options(hr));
client.Dispose();
await app.StopAsync();
await app.DisposeAsync();

Console.WriteLine($"Publishing {observations:N0} BehaviourObserved for {employees:N0} employees into the stopped service's queue…");
await using (var connection = await new ConnectionFactory { Uri = amqp }.CreateConnectionAsync())
await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
{
    for (var start = 0; start < observations; start += 1000)
    {
        var batch = new List<Task>();
        for (var n = start; n < Math.Min(observations, start + 1000); n++)
        {
            var message = new BehaviourObserved
            {
                ObservationId = $"obs-{n}",
                EmployeeId = $"emp-{n % employees}",
                BehaviourId = "helps-customers",
                BehaviourVersion = 1,
                Polarity = Polarity.Desired,
                Source = ObservationSource.SystemIntegration,
                ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                OrgUnitId = $"unit-{n % 10}",
            };
            var cloudEvent = CloudEvent.Create(message, "initiatives", message.EmployeeId, "pubsub");
            batch.Add(channel.BasicPublishAsync(cloudEvent.Topic!, "", false, new BasicProperties { Persistent = true }, cloudEvent.ToUtf8Json()).AsTask());
        }

        await Task.WhenAll(batch);
    }
}

Console.WriteLine($"Starting the service and timing the drain… (load average: {LoadAverage()})");
var profile = DrainProfile.Start(postgres.DataDirectory);
var clock = Stopwatch.StartNew();
(app, client) = await StartAsync();
while (await CountAsync("SELECT count(*) FROM outcomes") < observations)
{
    await Task.Delay(100); // count(*) is not free: polling more often slows what it measures.
}

clock.Stop();
profile.Stop();
var granted = await CountAsync("SELECT count(*) FROM outcomes WHERE status = 0");
var events = await CountAsync("SELECT count(*) FROM eventbus_outbox");
Console.WriteLine($"subscriber: {observations:N0} observations in {clock.Elapsed.TotalSeconds:F1} s = {observations / clock.Elapsed.TotalSeconds:F0} observations/s ({granted:N0} granted, {events:N0} outbox events)");
profile.Print(observations);

Console.WriteLine($"load average: {LoadAverage()}");

// A year of demo data: 365 days × 6 rewards a day for the measured employee, and as many for 500 others.
Console.WriteLine("Loading a year of demo data…");
await using (var connection = new NpgsqlConnection(database))
{
    await connection.OpenAsync();
    await using var writer = await connection.BeginBinaryImportAsync(
        "COPY outcomes (observation_id, reward_id, employee_id, behaviour_id, behaviour_version, behaviour_name, source, giver_id, points, status, period, org_unit_id, public, message, rules_version, observed_at, occurred_at) FROM STDIN (FORMAT BINARY)");
    var now = DateTimeOffset.UtcNow;
    var row = 0;
    for (var e = 0; e <= 500; e++)
    {
        for (var i = 0; i < 365 * 6; i++)
        {
            var at = now.AddMinutes(-i * 240 - e);
            await writer.StartRowAsync();
            await writer.WriteAsync($"demo-{row}", NpgsqlDbType.Text);
            await writer.WriteAsync($"demo-reward-{row++}", NpgsqlDbType.Text);
            await writer.WriteAsync(e == 0 ? "feed-employee" : $"demo-emp-{e}", NpgsqlDbType.Text);
            await writer.WriteAsync("helps-customers", NpgsqlDbType.Text);
            await writer.WriteAsync(1, NpgsqlDbType.Integer);
            await writer.WriteAsync("Helps customers", NpgsqlDbType.Text);
            await writer.WriteAsync(i % 3 == 0 ? 2 : 1, NpgsqlDbType.Integer);
            await writer.WriteAsync($"giver-{i % 40}", NpgsqlDbType.Text);
            await writer.WriteAsync(10, NpgsqlDbType.Integer);
            await writer.WriteAsync((short)(i % 17 == 0 ? 3 : 0), NpgsqlDbType.Smallint);
            await writer.WriteAsync(Transformation.Incentives.Api.Model.Period.Of(PeriodKind.Month, at), NpgsqlDbType.Text);
            await writer.WriteAsync($"unit-{e % 10}", NpgsqlDbType.Text);
            await writer.WriteAsync(i % 2 == 0, NpgsqlDbType.Boolean);
            await writer.WriteAsync("Thank you for the help with the customer escalation", NpgsqlDbType.Text);
            await writer.WriteAsync(1, NpgsqlDbType.Integer);
            await writer.WriteAsync(at, NpgsqlDbType.TimestampTz);
            await writer.WriteAsync(at, NpgsqlDbType.TimestampTz);
        }
    }

    await writer.CompleteAsync();
}

await using (var connection = new NpgsqlConnection(database))
{
    await connection.OpenAsync();
    await using var analyze = new NpgsqlCommand("ANALYZE outcomes", connection);
    await analyze.ExecuteNonQueryAsync();
}

var token = identity.TokenFor("feed-employee", Roles.Employee);
var request = new GetEmployeeFeedRequest { EmployeeId = "feed-employee", Limit = 50 };
for (var i = 0; i < 100; i++)
{
    await client.UnaryAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>(Method("GetEmployeeFeed"), request, Options(token));
}

var latencies = new List<double>(feedCalls);
for (var i = 0; i < feedCalls; i++)
{
    var call = Stopwatch.StartNew();
    var feed = await client.UnaryAsync<GetEmployeeFeedRequest, GetEmployeeFeedResponse>(Method("GetEmployeeFeed"), request, Options(token));
    latencies.Add(call.Elapsed.TotalMilliseconds);
    if (feed.Rewards.Count != 50)
    {
        throw new InvalidOperationException("The feed did not return a full page.");
    }
}

latencies.Sort();
var total = await CountAsync("SELECT count(*) FROM outcomes");
Console.WriteLine($"GetEmployeeFeed (50 items, {365 * 6:N0} rows for the employee, {total:N0} outcome rows in all), {feedCalls} sequential calls: " +
    $"p50 {latencies[feedCalls / 2]:F2} ms, p95 {latencies[(int)(feedCalls * 0.95)]:F2} ms, p99 {latencies[(int)(feedCalls * 0.99)]:F2} ms");
client.Dispose();
await app.StopAsync();
await app.DisposeAsync();
return;

// The machine's 1, 5 and 15 minute load averages (the runs share it with other work).
static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

async Task<(WebApplication App, GrpcTestClient Client)> StartAsync()
{
    var (grpcPort, httpPort) = (FreePort(), FreePort());
    var builder = WebApplication.CreateBuilder();
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["Service:Name"] = "incentives",
        ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
        ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
        ["Service:BindAddress"] = "localhost",
        ["EventBus:Database"] = database,
        ["EventBus:RabbitMq"] = amqp.ToString(),
        ["Grains:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        ["Grains:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
    });
    builder.Configuration.AddInMemoryCollection(identity.Settings);
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.AddIncentivesService();
    var started = builder.Build();
    started.MapIncentivesService();
    await started.StartAsync();
    return (started, GrpcTestClient.Create(new Uri($"http://127.0.0.1:{grpcPort}")));
}

async Task<long> CountAsync(string sql)
{
    await using var connection = new NpgsqlConnection(database);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

static Google.Protobuf.Reflection.MethodDescriptor Method(string name) => IncentivesReflection.Descriptor.Services[0].FindMethodByName(name);

static CallOptions Options(string token) => GrpcTestClient.As(token);

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
