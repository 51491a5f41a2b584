using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Transformation.EventBus;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;
using Transformation.ServerProcesses;

// Outbox → broker → subscriber-with-inbox against a plain RabbitMQ.Client publish/consume loop with confirms,
// same payloads, same servers, same run; then publish-to-handled latency at a paced 1,000 events/s.
// The subscriber's handler takes a delivery batch per call (IHandleEventBatch: one multi-row insert of the effect rows per
// batch) unless the fourth argument is "event" (IHandleEvent: one insert per event, as before).
// Usage: dotnet run -c Release --project benchmarks/EventBus.Benchmarks [events=50000] [latencySeconds=25] [eventsPerTransaction=1] [batch|event] [delete|keep]
var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var latencySeconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 25;
var eventsPerTransaction = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
var handler = args.Length > 3 && string.Equals(args[3], "event", StringComparison.Ordinal) ? "event" : "batch";
// The relay deletes the rows it relayed (EventBus:SentRetention 0, the default) unless "keep": a retention of a day, rows marked sent.
var deleteSent = !(args.Length > 4 && string.Equals(args[4], "keep", StringComparison.Ordinal));
Console.WriteLine($"Subscriber handler: {(string.Equals(handler, "batch", StringComparison.Ordinal) ? "IHandleEventBatch (one insert per delivery batch)" : "IHandleEvent (one insert per event)")}; " +
    $"relayed outbox rows {(deleteSent ? "deleted" : "marked sent")}");
var Verbose = string.Equals(Environment.GetEnvironmentVariable("EVENTBUS_BENCHMARK_VERBOSE"), "1", StringComparison.Ordinal);
const int Prefetch = 256;
const int Concurrency = 4;
const string Topic = "sample-recorded";

Console.WriteLine("Starting PostgreSQL (durable: fsync on) and RabbitMQ…");
await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
await using var rabbitMq = await RabbitMqServer.StartAsync();
await rabbitMq.CreateVirtualHostAsync("plain");
await rabbitMq.CreateVirtualHostAsync("bus");
await rabbitMq.CreateVirtualHostAsync("latency");

(string AggregateId, SampleRecorded Message) Payload(int n) => ($"aggregate-{n % 100}", new SampleRecorded { AggregateId = $"aggregate-{n % 100}", Number = n, Note = "benchmark payload " + new string('x', 100) });

Console.WriteLine($"load average: {LoadAverage()}");
var plain = await PlainLoopAsync(rabbitMq.AmqpUri("plain"), events);
Console.WriteLine($"plain RabbitMQ.Client publish+consume with confirms: {plain:F0} events/s");
var bus = await EventBusLoopAsync(await postgres.CreateDatabaseAsync("bus"), rabbitMq.AmqpUri("bus"), events);
Console.WriteLine($"outbox → relay → broker → subscriber with inbox:     {bus:F0} events/s");
Console.WriteLine($"ratio: {bus / plain:F2}");
Console.WriteLine($"load average: {LoadAverage()}");
var (p50, p99, max, count) = await LatencyAsync(await postgres.CreateDatabaseAsync("latency"), rabbitMq.AmqpUri("latency"), latencySeconds, eventsPerTransaction);
Console.WriteLine($"latency at 1,000 events/s ({eventsPerTransaction} per transaction) over {latencySeconds} s ({count} events written after a 5 s warm-up): p50 {p50:F1} ms, p99 {p99:F1} ms, max {max:F1} ms");
Console.WriteLine($"load average: {LoadAverage()}");
return;

// The machine's 1, 5 and 15 minute load averages (the runs share it with other work).
static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

// The same messages, the same topology and consumer settings, nothing else: publish in pipelined batches of 500 with confirms.
async Task<double> PlainLoopAsync(Uri uri, int count)
{
    var bodies = Enumerable.Range(1, count).Select(n => CloudEvent.Create(Payload(n).Message, "producer", Payload(n).AggregateId, "pubsub").ToUtf8Json()).ToArray();
    await using var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync();
    await using var setup = await connection.CreateChannelAsync();
    await RabbitMqTopology.DeclareSubscriptionAsync(setup, Topic, "plain-" + Topic);

    var received = 0;
    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    await using var consuming = await connection.CreateChannelAsync(new CreateChannelOptions(false, false, consumerDispatchConcurrency: Concurrency));
    await consuming.BasicQosAsync(0, Prefetch, false);
    var consumer = new AsyncEventingBasicConsumer(consuming);
    consumer.ReceivedAsync += async (_, delivery) =>
    {
        _ = CloudEvent.Parse(delivery.Body.Span).DataAs(SampleRecorded.Parser);
        await consuming.BasicAckAsync(delivery.DeliveryTag, false);
        if (Interlocked.Increment(ref received) == count)
        {
            done.SetResult();
        }
    };
    await consuming.BasicConsumeAsync("plain-" + Topic, false, consumer);

    await using var publishing = await connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));
    var clock = Stopwatch.StartNew();
    foreach (var batch in bodies.Chunk(500))
    {
        await Task.WhenAll(batch.Select(body => publishing.BasicPublishAsync(Topic, "", false, new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType }, body).AsTask()));
    }

    await done.Task;
    return count / clock.Elapsed.TotalSeconds;
}

// Events written through the outbox (transactions of 100, as a busy service would), relayed, handled with inbox + effect row.
async Task<double> EventBusLoopAsync(string database, Uri uri, int count)
{
    using var subscriber = await StartAsync("alpha", database, uri, subscribe: true);
    using var publisher = await StartAsync("producer", database, uri, subscribe: false);
    var outbox = publisher.Services.GetRequiredService<Outbox>();
    var clock = Stopwatch.StartNew();
    await using (var connection = new NpgsqlConnection(database))
    {
        await connection.OpenAsync();
        foreach (var batch in Enumerable.Range(1, count).Chunk(100))
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await outbox.EnqueueAsync(connection, transaction, batch.Select(n => new OutgoingEvent(Payload(n).AggregateId, Payload(n).Message)).ToList());
            await transaction.CommitAsync();
        }
    }

    Console.WriteLine($"  outbox written after {clock.Elapsed.TotalSeconds:F1} s");
    var lastReport = TimeSpan.Zero;
    long handled;
    while ((handled = await EffectsAsync(database)) < count)
    {
        if (Verbose && clock.Elapsed - lastReport > TimeSpan.FromSeconds(2))
        {
            lastReport = clock.Elapsed;
            Console.WriteLine($"  {clock.Elapsed.TotalSeconds:F0} s: unsent {await ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL")}, handled {handled}");
        }

        await Task.Delay(10);
    }

    var rate = count / clock.Elapsed.TotalSeconds;
    await publisher.StopAsync();
    await subscriber.StopAsync();
    return rate;
}

// A steady 1,000 events/s, each transaction writing eventsPerTransaction of them (1: a commit per event); latency is the subscriber's own measure, from the event's time to its handler's commit.
async Task<(double P50, double P99, double Max, int Count)> LatencyAsync(string database, Uri uri, int seconds, int perTransaction)
{
    var latencies = new ConcurrentQueue<(TimeSpan At, double Ms)>();
    var clock = Stopwatch.StartNew();
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (string.Equals(instrument.Name, "eventbus.delivery.latency", StringComparison.Ordinal) && string.Equals(instrument.Meter.Name, "Transformation.beta", StringComparison.Ordinal))
        {
            l.EnableMeasurementEvents(instrument);
        }
    };
    listener.SetMeasurementEventCallback<double>((_, value, _, _) => latencies.Enqueue((clock.Elapsed, value)));
    listener.Start();

    using var subscriber = await StartAsync("beta", database, uri, subscribe: true);
    using var publisher = await StartAsync("producer", database, uri, subscribe: false);
    var outbox = publisher.Services.GetRequiredService<Outbox>();
    await using var dataSource = NpgsqlDataSource.Create(database);
    var total = seconds * 1000;
    var writes = new List<Task>(total);
    using var inFlight = new SemaphoreSlim(64);
    clock.Restart();
    for (var n = 1; n <= total; n += perTransaction)
    {
        var due = TimeSpan.FromMilliseconds(n);
        if (due > clock.Elapsed)
        {
            await Task.Delay(due - clock.Elapsed);
        }

        if (Verbose && n % 2000 < perTransaction)
        {
            Console.WriteLine($"  {clock.Elapsed.TotalSeconds:F0} s: written {n}, unsent {await ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL")}, handled {await EffectsAsync(database)}");
        }

        await inFlight.WaitAsync();
        var number = n;
        writes.Add(Task.Run(async () =>
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await outbox.EnqueueAsync(connection, transaction,
                    Enumerable.Range(number, perTransaction).Select(i => new OutgoingEvent(Payload(i).AggregateId, Payload(i).Message)).ToList());
                await transaction.CommitAsync();
            }
            finally
            {
                inFlight.Release();
            }
        }));
    }

    await Task.WhenAll(writes);
    while (await EffectsAsync(database) < total)
    {
        await Task.Delay(10);
    }

    await publisher.StopAsync();
    await subscriber.StopAsync();
    // Only events written after a 5 s warm-up (JIT, connection pools, prepared statements) count.
    var sorted = latencies.Where(l => l.At - TimeSpan.FromMilliseconds(l.Ms) > TimeSpan.FromSeconds(5)).Select(l => l.Ms).Order().ToArray();
    return (sorted[sorted.Length / 2], sorted[(int)(sorted.Length * 0.99)], sorted[^1], sorted.Length);
}

async Task<IHost> StartAsync(string appId, string database, Uri uri, bool subscribe)
{
    await SampleHost.EnsureEffectTableAsync(database);
    var host = SampleHost.CreateBuilder([], new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["Service:Name"] = appId,
        ["EventBus:Database"] = database,
        ["EventBus:RabbitMq"] = uri.ToString(),
        ["EventBus:PrefetchCount"] = Prefetch.ToString(CultureInfo.InvariantCulture),
        ["EventBus:Concurrency"] = Concurrency.ToString(CultureInfo.InvariantCulture),
        ["Subscribe"] = subscribe ? "true" : "false",
        ["Handler"] = handler,
        ["EventBus:SentRetention"] = deleteSent ? "00:00:00" : "1.00:00:00",
    }).Build();
    await host.StartAsync();
    return host;
}

Task<long> EffectsAsync(string database) => ScalarAsync(database, "SELECT count(*) FROM sample_effects");

async Task<long> ScalarAsync(string database, string sql)
{
    await using var connection = new NpgsqlConnection(database);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    return (long)(await command.ExecuteScalarAsync())!;
}
