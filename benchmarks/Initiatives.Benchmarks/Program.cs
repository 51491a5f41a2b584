using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using NpgsqlTypes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Incentives.Api;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.Initiatives.Benchmarks;
using Transformation.Initiatives.V1;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;

// Issue 6, acceptance 3: end-to-end ingest. The real Initiatives and Incentives services in this process (their own
// Add…Service(), each with its own database, one broker vhost), fed over real gRPC:
// 1. Throughput: M observations through RecordObservations (client streaming; `streams` concurrent calls of `streamSize`
//    observations each, one transaction per call), timed until (a) every call has answered (durable), (b) every observation
//    has an outcome row in Incentives' database and (c) the initiative's progress (GetInitiative) counts all of them;
//    polled every 100 ms. Beside it, in the same run, the binary COPY rate of the same rows into a fresh table of the shape of
//    Initiatives' observations table (its own DDL, in a scratch database).
// 2. Latency: a steady offered rate for a number of seconds (a call every `tickMs` carrying the observations due), each
//    observation stamped with its send time; observation-to-reward = the time a subscriber of RewardGranted on the broker (in
//    this process) receives its reward minus that send time, both from this process's clock; also the outcome row's stored
//    time (occurred_at, stamped by Incentives before its commit, same machine clock) minus the send time.
// 3. Issue 27: the throughput part alternates (`rounds` times) with ReferencePipeline, the same flow with nothing but the
//    servers; the ratio real / reference is reported per round.
// Usage: dotnet run -c Release --project benchmarks/Initiatives.Benchmarks -- [observations=50000] [employees=5000] [rate=2000] [seconds=20] [streamSize=1000] [streams=4] [tickMs=10] [keepRelayed=0] [rounds=1]
//        (name=value, or the values alone in this order)
var settings = new Dictionary<string, int>(StringComparer.Ordinal)
{
    ["observations"] = 50_000, ["employees"] = 5_000, ["rate"] = 2_000, ["seconds"] = 20, ["streamSize"] = 1_000, ["streams"] = 4, ["tickMs"] = 10,
    // 1: both services mark relayed outbox rows sent and keep them a day (EventBus:SentRetention) instead of deleting them (the default).
    ["keepRelayed"] = 0,
    // Issue 27: how many times the throughput part and the reference pipeline run, alternately.
    ["rounds"] = 1,
};
var order = settings.Keys.ToArray();
for (var i = 0; i < args.Length; i++)
{
    var split = args[i].IndexOf('=', StringComparison.Ordinal);
    var name = split < 0 ? order[i] : args[i][..split];
    if (!settings.ContainsKey(name))
    {
        throw new ArgumentException($"Unknown setting '{name}'; known: {string.Join(", ", order)}.", nameof(args));
    }

    settings[name] = int.Parse(split < 0 ? args[i] : args[i][(split + 1)..], CultureInfo.InvariantCulture);
}

var (total, employees, rate, seconds, streamSize, streams, tickMs) =
    (settings["observations"], settings["employees"], settings["rate"], settings["seconds"], settings["streamSize"], settings["streams"], settings["tickMs"]);
const string Behaviour = "helps-customers";
const int Units = 10;
Console.WriteLine($"Settings: {string.Join(' ', settings.Select(s => $"{s.Key}={s.Value}"))}");

Console.WriteLine($"Starting PostgreSQL (durable: fsync on) and RabbitMQ… (load average: {LoadAverage()})");
await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
await using var rabbitMq = await RabbitMqServer.StartAsync();
await rabbitMq.CreateVirtualHostAsync("bench");
var amqp = rabbitMq.AmqpUri("bench");
var initiativesDb = await postgres.CreateDatabaseAsync("initiatives");
var incentivesDb = await postgres.CreateDatabaseAsync("incentives");
var scratchDb = await postgres.CreateDatabaseAsync("scratch");
using var identity = new TestIdentity();
var hr = identity.TokenFor("hr-1", Roles.Hr);
var manager = identity.TokenFor("cm-1", Roles.ChangeManager);
var sponsor = identity.TokenFor("exec-1", Roles.Executive);
// A system integration records the observations: a service identity (not rate-limited), source SYSTEM_INTEGRATION.
var integration = identity.TokenFor("integration-1", Roles.Service);

// Incentives with the batch settings its appsettings.json ships (this process does not load that file); Initiatives ships none.
var (incentives, incentivesClient) = await StartAsync("incentives", incentivesDb, b => b.AddIncentivesService(), a => a.MapIncentivesService(),
    new(StringComparer.Ordinal) { ["EventBus:BatchSize"] = "500", ["EventBus:PrefetchCount"] = "1000" });
var (initiatives, initiativesClient) = await StartAsync("initiatives", initiativesDb, b => b.AddInitiativesService(), a => a.MapInitiativesService(), new(StringComparer.Ordinal));
await using var broker = await new ConnectionFactory { Uri = amqp }.CreateConnectionAsync();
foreach (var queue in new[] { "initiatives-org-unit-changed", "initiatives-employee-joined", "incentives-org-unit-changed", "incentives-employee-joined",
    "initiatives-behaviour-defined", "incentives-behaviour-observed", "initiatives-reward-granted" })
{
    while (await QueueDepthAsync(queue) is null)
    {
        await Task.Delay(100);
    }
}

// The Directory's events, as the Directory publishes them, reach both services' copies: a root, 10 units, N employees, the sponsor and change manager.
Console.WriteLine($"Publishing the Directory: {Units + 1} org units, {employees + 2:N0} employees…");
var directory = new List<IMessage> { new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "org", Name = "Organisation", Version = 1 } } };
directory.AddRange(Enumerable.Range(0, Units).Select(u => new OrgUnitChanged
{
    OrgUnit = new OrgUnitSnapshot { OrgUnitId = $"unit-{u}", Name = $"Unit {u}", ParentId = "org", Version = 1 },
}));
directory.AddRange(Enumerable.Range(0, employees).Select(n => $"emp-{n}").Concat(["exec-1", "cm-1"]).Select((id, n) => new EmployeeJoined
{
    Employee = new EmployeeSnapshot { EmployeeId = id, DisplayName = id, OrgUnitId = $"unit-{n % Units}", Active = true, Version = 1, Roles = { Role.Employee } },
}));
await TestEvents.PublishAsync(amqp, directory, CancellationToken.None);
await WaitCountAsync(initiativesDb, "SELECT count(*) FROM employees", employees + 2, "Initiatives' copy of the Directory");
await WaitCountAsync(incentivesDb, "SELECT count(*) FROM employees", employees + 2, "Incentives' copy of the Directory");
await WaitCountAsync(initiativesDb, "SELECT count(*) FROM org_units", Units + 1, "Initiatives' org units");

// The behaviour in Incentives' catalogue (BehaviourDefined brings it into Initiatives' copy), and the incentive rules.
await incentivesClient.UnaryAsync<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(IncentivesMethod("DefineBehaviour"), new Inc.DefineBehaviourRequest
{
    IdempotencyKey = "define",
    BehaviourId = Behaviour,
    Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes out of their way for a customer", Polarity = Polarity.Desired },
}, Options(hr));
await incentivesClient.UnaryAsync<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(IncentivesMethod("UpdateIncentiveRules"),
    new Inc.UpdateIncentiveRulesRequest
    {
        IdempotencyKey = "rules",
        Rules = new Inc.IncentiveRules
        {
            Period = Inc.PeriodKind.Month,
            SourcePoints = { new Inc.SourcePoints { Source = ObservationSource.SystemIntegration, Points = 10 } },
            CapPerEmployee = 1_000_000,
            ObservationsPublic = true,
        },
    }, Options(hr));
await WaitCountAsync(initiativesDb, "SELECT count(*) FROM behaviours", 1, "Initiatives' copy of the catalogue");

// An active initiative over the whole organisation that tracks the behaviour.
var initiativeId = (await initiativesClient.UnaryAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>(InitiativesMethod("ProposeInitiative"),
    new ProposeInitiativeRequest
    {
        IdempotencyKey = "propose",
        Initiative = new InitiativeDraft
        {
            Name = "Customer first",
            Purpose = "The customer at the centre of every team",
            SponsorId = "exec-1",
            ScopeOrgUnitIds = { "org" },
            TargetBehaviourIds = { Behaviour },
            Goals =
            {
                new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Target = 0.8 },
                new Goal { GoalId = "count", Kind = GoalKind.Count, Target = total },
            },
        },
    }, Options(manager))).Initiative.InitiativeId;
await initiativesClient.UnaryAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>(InitiativesMethod("SponsorInitiative"),
    new SponsorInitiativeRequest { IdempotencyKey = "sponsor", InitiativeId = initiativeId }, Options(sponsor));
await initiativesClient.UnaryAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>(InitiativesMethod("ActivateInitiative"),
    new ActivateInitiativeRequest { IdempotencyKey = "activate", InitiativeId = initiativeId }, Options(manager));

// Warm-up (JIT, pools, actor activations): 1,000 observations through the whole path, not measured.
Console.WriteLine("Warm-up: 1,000 observations end to end…");
var warmUp = Inputs("w", 1_000);
foreach (var chunk in warmUp.Chunk(500))
{
    await RecordAsync(chunk, null, 0);
}

await WaitCountAsync(incentivesDb, "SELECT count(*) FROM outcomes", warmUp.Length, "warm-up outcomes");
while (await ProgressAsync() < warmUp.Length)
{
    await Task.Delay(100);
}

await QuiesceAsync("after the warm-up");

// ---- 1. Throughput, alternating with the reference pipeline (issue 27) ----
var referenceDb = await postgres.CreateDatabaseAsync("reference");
var referenceRewardsDb = await postgres.CreateDatabaseAsync("reference_rewards");
await rabbitMq.CreateVirtualHostAsync("reference");
var reference = new ReferencePipeline(referenceDb, referenceRewardsDb, rabbitMq.AmqpUri("reference"));
await reference.CreateAsync();
var cpu = new CpuMeter(postgres.DataDirectory);
Throughput? real = null;
var ratios = new List<double>();
for (var round = 1; round <= settings["rounds"]; round++)
{
    real = await ThroughputAsync($"t{round}");
    await QuiesceAsync($"after round {round}");
    Console.WriteLine($"Reference pipeline, round {round}: {total:N0} observations in batches of {streamSize:N0}, {streams} at a time… (load average: {LoadAverage()})");
    cpu.Start();
    var floor = await reference.RunAsync(total, employees, streamSize, streams, CancellationToken.None);
    var floorRate = total / floor.TotalSeconds;
    ratios.Add(real.Rate / floorRate);
    Console.WriteLine($"  reference end to end: {total:N0} in {floor.TotalSeconds:F2} s = {floorRate:N0} observations/s (load average: {LoadAverage()})");
    Console.WriteLine($"  {cpu.Since(total)}");
    Console.WriteLine($"  round {round}: real / reference = {real.Rate:N0} / {floorRate:N0} = {ratios[^1]:F3}");
}

Console.WriteLine($"Throughput ratio real / reference per round: {string.Join(", ", ratios.Select(r => r.ToString("F3", CultureInfo.InvariantCulture)))}; mean {ratios.Average():F3}");

// ---- The raw COPY of the same rows ----
var loadBeforeCopy = LoadAverage();
var copySeconds = await CopyAsync(real!.Inputs);
var loadAfterCopy = LoadAverage();
var copyRate = total / copySeconds;
Console.WriteLine($"COPY (binary, same rows, table of the observations table's shape, fsync on): {total:N0} in {copySeconds:F2} s = {copyRate:N0} rows/s " +
    $"(load average before {loadBeforeCopy}, after {loadAfterCopy})");
Console.WriteLine($"ratio end to end / COPY: {real.Rate / copyRate:F3}");

// ---- 2. Latency at a steady offered rate ----
await QuiesceAsync("after the throughput part");
var count = rate * seconds;
var warmSeconds = Math.Min(2.0, seconds / 5.0);
var latencyInputs = Inputs("l", count);
var sentAt = new long[count];
var answeredAt = new long[count];
var ids = new string?[count];
var received = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
await using var rewards = await broker.CreateChannelAsync();
var rewardQueue = (await rewards.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
await rewards.QueueBindAsync(rewardQueue, EventNames.Topic(Inc.RewardGranted.Descriptor), "");
var consumer = new AsyncEventingBasicConsumer(rewards);
consumer.ReceivedAsync += (_, delivery) =>
{
    var at = DateTime.UtcNow.Ticks;
    received.TryAdd(CloudEvent.Parse(delivery.Body.Span).DataAs(Inc.RewardGranted.Parser).ObservationId, at);
    return Task.CompletedTask;
};
await rewards.BasicConsumeAsync(rewardQueue, autoAck: true, consumer);

var latencyOutcomesBefore = await CountAsync(incentivesDb, "SELECT count(*) FROM outcomes");
var latencyProgressBefore = await ProgressAsync();
var loadBeforeLatency = LoadAverage();
Console.WriteLine($"Latency: {rate:N0} observations/s offered for {seconds} s (a call every {tickMs} ms), the first {warmSeconds:F0} s not counted… (load average: {loadBeforeLatency})");
var answered = 0;
var sent = 0;
var inFlight = new List<Task>();
cpu.Start();
var offerClock = Stopwatch.StartNew();
using (var monitor = new CancellationTokenSource())
{
    var lines = MonitorAsync(offerClock, () => $"offered {Volatile.Read(ref sent),6:N0} durable {Volatile.Read(ref answered),6:N0} rewards seen {received.Count,6:N0}",
        latencyOutcomesBefore, latencyProgressBefore, monitor.Token);
    using (var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(tickMs)))
    {
        while (sent < count && await timer.WaitForNextTickAsync())
        {
            var due = Math.Min(count, (int)(offerClock.Elapsed.TotalSeconds * rate)) - sent;
            if (due <= 0)
            {
                continue;
            }

            var offset = sent;
            Volatile.Write(ref sent, sent + due);
            inFlight.Add(Task.Run(async () =>
            {
                var response = await RecordAsync(new ArraySegment<ObservationInput>(latencyInputs, offset, due), sentAt, offset);
                var now = DateTime.UtcNow.Ticks;
                for (var k = 0; k < due; k++)
                {
                    ids[offset + k] = response.ObservationIds[k];
                    answeredAt[offset + k] = now;
                }

                Interlocked.Add(ref answered, due);
            }));
        }
    }

    var offeredFor = offerClock.Elapsed;
    await Task.WhenAll(inFlight);
    Console.WriteLine($"  offered {count:N0} in {offeredFor.TotalSeconds:F2} s = {count / offeredFor.TotalSeconds:N0}/s");
    var deadline = offerClock.Elapsed + TimeSpan.FromMinutes(5);
    while (ids.Any(id => !received.ContainsKey(id!)) && offerClock.Elapsed < deadline)
    {
        await Task.Delay(100);
    }

    await monitor.CancelAsync();
    await lines;
}

var loadAfterLatency = LoadAverage();
Console.WriteLine($"  {cpu.Since(count)}");
var measured = Enumerable.Range(0, count).Where(i => TimeSpan.FromTicks(sentAt[i] - sentAt[0]).TotalSeconds >= warmSeconds).ToList();
var missing = measured.Count(i => !received.ContainsKey(ids[i]!));
var stored = new Dictionary<string, long>(StringComparer.Ordinal);
await using (var connection = new NpgsqlConnection(incentivesDb))
{
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT observation_id, occurred_at FROM outcomes WHERE observation_id = ANY($1)", connection)
    {
        Parameters = { new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = measured.Select(i => ids[i]!).ToArray() } },
    };
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        stored[reader.GetString(0)] = reader.GetFieldValue<DateTime>(1).Ticks;
    }
}

Console.WriteLine($"  {measured.Count:N0} observations measured ({count - measured.Count:N0} of the warm-up left out), {missing:N0} rewards not seen (load average: {loadAfterLatency})");
Report("send → durable (RecordObservations answered)", measured.Select(i => answeredAt[i] - sentAt[i]));
Report("send → outcome stored (outcomes.occurred_at)", measured.Where(i => stored.ContainsKey(ids[i]!)).Select(i => stored[ids[i]!] - sentAt[i]));
Report("send → RewardGranted received from the broker", measured.Where(i => received.ContainsKey(ids[i]!)).Select(i => received[ids[i]!] - sentAt[i]));

Console.WriteLine();
Console.WriteLine("| observations | end-to-end obs/s | durable s / (b) s / (c) s | COPY rows/s | ratio | load before → after (1 min) |");
Console.WriteLine($"| {total:N0} | {real.Rate:N0} | {real.DurableAt.TotalSeconds:F1} / {real.RewardedAt.TotalSeconds:F1} / {real.ProgressedAt.TotalSeconds:F1} | " +
    $"{copyRate:N0} | {real.Rate / copyRate:F3} | {real.LoadBefore.Split(' ')[0]} → {real.LoadAfter.Split(' ')[0]} |");

initiativesClient.Dispose();
incentivesClient.Dispose();
await initiatives.StopAsync();
await initiatives.DisposeAsync();
await incentives.StopAsync();
await incentives.DisposeAsync();
return;

// One timed pass of `total` fresh observations through the real services (see the header).
async Task<Throughput> ThroughputAsync(string prefix)
{
    var inputs = Inputs(prefix, total);
    var outcomesBefore = await CountAsync(incentivesDb, "SELECT count(*) FROM outcomes");
    var progressBefore = await ProgressAsync();
    var loadBeforeThroughput = LoadAverage();
    Console.WriteLine($"Throughput: {total:N0} observations in calls of {streamSize:N0}, {streams} at a time… (load average: {loadBeforeThroughput})");
    cpu.Start();
    var clock = Stopwatch.StartNew();
    TimeSpan? durableAt = null, rewardedAt = null, progressedAt = null;
    var durable = 0;
    var nextCall = -1;
    using (var monitor = new CancellationTokenSource())
    {
        var lines = MonitorAsync(clock, () => $"durable {Volatile.Read(ref durable),7:N0}", outcomesBefore, progressBefore, monitor.Token);
        var sending = Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            int call;
            while ((call = Interlocked.Increment(ref nextCall)) * streamSize < total)
            {
                var slice = new ArraySegment<ObservationInput>(inputs, call * streamSize, Math.Min(streamSize, total - (call * streamSize)));
                await RecordAsync(slice, null, 0);
                if (Interlocked.Add(ref durable, slice.Count) == total)
                {
                    durableAt = clock.Elapsed;
                }
            }
        })));
        while (rewardedAt is null || progressedAt is null)
        {
            if (sending.IsFaulted)
            {
                await sending;
            }

            if (rewardedAt is null && await CountAsync(incentivesDb, "SELECT count(*) FROM outcomes") - outcomesBefore >= total)
            {
                rewardedAt = clock.Elapsed;
            }

            if (progressedAt is null && await ProgressAsync() - progressBefore >= total)
            {
                progressedAt = clock.Elapsed;
            }

            if (clock.Elapsed > TimeSpan.FromMinutes(20))
            {
                throw new TimeoutException("The throughput part did not finish in 20 minutes.");
            }

            await Task.Delay(100);
        }

        await sending;
        await monitor.CancelAsync();
        await lines;
    }

    var endToEnd = rewardedAt.Value > progressedAt.Value ? rewardedAt.Value : progressedAt.Value;
    var throughputCpu = cpu.Since(total);
    var loadAfterThroughput = LoadAverage();
    var granted = await CountAsync(incentivesDb, "SELECT count(*) FROM outcomes WHERE status = 0");
    Console.WriteLine($"  (a) durable (every call answered)   {durableAt!.Value.TotalSeconds,7:F2} s  {total / durableAt.Value.TotalSeconds,8:N0} obs/s");
    Console.WriteLine($"  (b) every observation has an outcome {rewardedAt.Value.TotalSeconds,7:F2} s  {total / rewardedAt.Value.TotalSeconds,8:N0} obs/s ({granted:N0} granted in all)");
    Console.WriteLine($"  (c) progress counts every one        {progressedAt.Value.TotalSeconds,7:F2} s  {total / progressedAt.Value.TotalSeconds,8:N0} obs/s");
    Console.WriteLine($"  end to end (b and c): {total:N0} in {endToEnd.TotalSeconds:F2} s = {total / endToEnd.TotalSeconds:N0} observations/s (load average: {loadAfterThroughput})");
    Console.WriteLine($"  {throughputCpu}");

    return new Throughput(inputs, total / endToEnd.TotalSeconds, durableAt!.Value, rewardedAt.Value, progressedAt.Value, loadBeforeThroughput, loadAfterThroughput);
}

// The machine's 1, 5 and 15 minute load averages (the runs share it with other work).
static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

static void Report(string what, IEnumerable<long> ticks)
{
    var sorted = ticks.Select(t => t / (double)TimeSpan.TicksPerMillisecond).Order().ToArray();
    if (sorted.Length == 0)
    {
        Console.WriteLine($"  {what}: no samples");
        return;
    }

    double At(double p) => sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1)];
    Console.WriteLine($"  {what,-50} p50 {At(0.50),8:F1} ms  p95 {At(0.95),8:F1} ms  p99 {At(0.99),8:F1} ms  max {sorted[^1],8:F1} ms  (n = {sorted.Length:N0})");
}

ObservationInput[] Inputs(string prefix, int howMany)
{
    var observedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
    return [.. Enumerable.Range(0, howMany).Select(n => new ObservationInput
    {
        IdempotencyKey = $"{prefix}-{n}",
        EmployeeId = $"emp-{n % employees}",
        BehaviourId = Behaviour,
        Polarity = Polarity.Desired,
        Source = ObservationSource.SystemIntegration,
        ObservedAt = observedAt,
        Evidence = "CRM ticket closed with a customer thank-you",
        InitiativeId = initiativeId,
    })];
}

// One RecordObservations call (one transaction in the service): writes each observation as a message, stamping its send
// time when asked, then reads the answer, which comes once the transaction has committed.
async Task<RecordObservationsResponse> RecordAsync(IReadOnlyList<ObservationInput> batch, long[]? stamps, int offset)
{
    using var call = initiativesClient.ClientStreaming<RecordObservationsRequest, RecordObservationsResponse>(InitiativesMethod("RecordObservations"), Options(integration));
    for (var i = 0; i < batch.Count; i++)
    {
        if (stamps is not null)
        {
            stamps[offset + i] = DateTime.UtcNow.Ticks;
        }

        await call.RequestStream.WriteAsync(new RecordObservationsRequest { Observation = batch[i] });
    }

    await call.RequestStream.CompleteAsync();
    var response = await call.ResponseAsync;
    return response.Created == batch.Count ? response : throw new InvalidOperationException($"{response.Created} of {batch.Count} observations were created.");
}

async Task<long> ProgressAsync() =>
    (await initiativesClient.UnaryAsync<GetInitiativeRequest, GetInitiativeResponse>(InitiativesMethod("GetInitiative"),
        new GetInitiativeRequest { InitiativeId = initiativeId }, Options(hr))).Initiative.Progress?.DesiredObservations ?? 0;

// A line a second: where the observations are along the path (queues: the ready messages RabbitMQ holds; outcomes and
// progress: counted from the part's start). The probes run together, so that a slow one on the loaded machine does not
// hold the others; a line is late when they are.
async Task MonitorAsync(Stopwatch since, Func<string> head, long outcomesFrom, long progressFrom, CancellationToken cancellationToken)
{
    var next = 1.0;
    try
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0.05, next - since.Elapsed.TotalSeconds)), cancellationToken);
            next = Math.Floor(since.Elapsed.TotalSeconds) + 1;
            var at = since.Elapsed.TotalSeconds;
            var text = head();
            var initiativesUnsent = CountAsync(initiativesDb, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL");
            var observedQueue = QueueDepthAsync("incentives-behaviour-observed");
            var outcomes = CountAsync(incentivesDb, "SELECT count(*) FROM outcomes");
            var incentivesUnsent = CountAsync(incentivesDb, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL");
            var grantedQueue = QueueDepthAsync("initiatives-reward-granted");
            var progress = ProgressAsync();
            Console.WriteLine($"{at,6:F1} s  {text}" +
                $" | initiatives outbox unsent {await initiativesUnsent,6:N0}" +
                $" | behaviour-observed queue {await observedQueue,6:N0}" +
                $" | outcomes {await outcomes - outcomesFrom,7:N0}" +
                $" | incentives outbox unsent {await incentivesUnsent,7:N0}" +
                $" | reward-granted queue {await grantedQueue,6:N0}" +
                $" | progress {await progress - progressFrom,7:N0}" +
                $" | load {LoadAverage().Split(' ')[0]}");
        }
    }
    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
    {
        // Done.
    }
}

// Until nothing is on its way: both outboxes relayed, both queues of the path empty (so a part does not pay for the last one's backlog).
async Task QuiesceAsync(string after)
{
    var waited = Stopwatch.StartNew();
    while (await CountAsync(initiativesDb, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL") > 0
        || await CountAsync(incentivesDb, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL") > 0
        || await QueueDepthAsync("incentives-behaviour-observed") > 0 || await QueueDepthAsync("initiatives-reward-granted") > 0)
    {
        if (waited.Elapsed > TimeSpan.FromMinutes(10))
        {
            throw new TimeoutException($"The event path did not drain within 10 minutes {after}.");
        }

        await Task.Delay(250);
    }

    Console.WriteLine($"  drained {after} in {waited.Elapsed.TotalSeconds:F1} s");
}

// The raw rate: the same rows (ids, request hashes, org units as the service writes them) by binary COPY into a fresh
// observations table created by Initiatives' own DDL (same columns, defaults, keys and indexes) in a scratch database.
async Task<double> CopyAsync(ObservationInput[] rows)
{
    await using var connection = new NpgsqlConnection(scratchDb);
    await connection.OpenAsync();
    await using (var create = new NpgsqlCommand(InitiativesSchema.Sql, connection))
    {
        await create.ExecuteNonQueryAsync();
    }

    var prepared = rows.Select((row, n) =>
    {
        var copy = row.Clone();
        copy.IdempotencyKey = "";
        return (Id: Guid.CreateVersion7(), Hash: SHA256.HashData(copy.ToByteArray()), Unit: $"unit-{n % employees % Units}");
    }).ToArray();
    var recordedAt = DateTimeOffset.UtcNow;
    var copyClock = Stopwatch.StartNew();
    await using (var writer = await connection.BeginBinaryImportAsync("""
        COPY observations (observation_id, recorded_by, idempotency_key, request_hash, employee_id, behaviour_id, behaviour_version, polarity, source,
            observer_id, observed_at, initiative_id, evidence, org_unit_id, recorded_at) FROM STDIN (FORMAT BINARY)
        """))
    {
        for (var n = 0; n < rows.Length; n++)
        {
            var row = rows[n];
            await writer.StartRowAsync();
            await writer.WriteAsync(prepared[n].Id, NpgsqlDbType.Uuid);
            await writer.WriteAsync("integration-1", NpgsqlDbType.Text);
            await writer.WriteAsync(row.IdempotencyKey, NpgsqlDbType.Text);
            await writer.WriteAsync(prepared[n].Hash, NpgsqlDbType.Bytea);
            await writer.WriteAsync(row.EmployeeId, NpgsqlDbType.Text);
            await writer.WriteAsync(row.BehaviourId, NpgsqlDbType.Text);
            await writer.WriteAsync(1, NpgsqlDbType.Integer);
            await writer.WriteAsync((int)row.Polarity, NpgsqlDbType.Integer);
            await writer.WriteAsync((int)row.Source, NpgsqlDbType.Integer);
            await writer.WriteAsync(row.ObserverId, NpgsqlDbType.Text);
            await writer.WriteAsync(row.ObservedAt.ToDateTimeOffset(), NpgsqlDbType.TimestampTz);
            await writer.WriteAsync(row.InitiativeId, NpgsqlDbType.Text);
            await writer.WriteAsync(row.Evidence, NpgsqlDbType.Text);
            await writer.WriteAsync(prepared[n].Unit, NpgsqlDbType.Text);
            await writer.WriteAsync(recordedAt, NpgsqlDbType.TimestampTz);
        }

        await writer.CompleteAsync();
    }

    return copyClock.Elapsed.TotalSeconds;
}

async Task<(WebApplication App, GrpcTestClient Client)> StartAsync(string name, string database, Action<WebApplicationBuilder> add, Action<WebApplication> map,
    Dictionary<string, string?> extra)
{
    KeyValuePair<string, string?>[] retention = settings["keepRelayed"] == 1 ? [new("EventBus:SentRetention", "1.00:00:00")] : [];
    var service = await InProcessService.StartAsync(name, database, amqp, [.. extra, .. retention, .. identity.Settings], add, map, CancellationToken.None);
    return (service.App, GrpcTestClient.Create(service.Address));
}

async Task<long> CountAsync(string database, string sql)
{
    await using var connection = new NpgsqlConnection(database);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

async Task WaitCountAsync(string database, string sql, long expected, string what)
{
    var waited = Stopwatch.StartNew();
    long actual;
    while ((actual = await CountAsync(database, sql)) < expected)
    {
        if (waited.Elapsed > TimeSpan.FromMinutes(5))
        {
            throw new TimeoutException($"{what}: {actual:N0} of {expected:N0} after 5 minutes.");
        }

        await Task.Delay(100);
    }

    Console.WriteLine($"  {what}: {actual:N0} ({waited.Elapsed.TotalSeconds:F1} s)");
}

// Ready messages in a queue (null when it does not exist yet: the passive declare closes its channel).
async Task<uint?> QueueDepthAsync(string queue)
{
    try
    {
        await using var channel = await broker.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }
    catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
    {
        return null;
    }
}

static Google.Protobuf.Reflection.MethodDescriptor IncentivesMethod(string name) => Inc.IncentivesReflection.Descriptor.Services[0].FindMethodByName(name);

static Google.Protobuf.Reflection.MethodDescriptor InitiativesMethod(string name) => InitiativesReflection.Descriptor.Services[0].FindMethodByName(name);

static CallOptions Options(string token) => GrpcTestClient.As(token);
