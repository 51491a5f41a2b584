using System.Diagnostics;
using Transformation.Actors.Benchmarks;
using Transformation.ServerProcesses;

// Usage: dotnet run -c Release --project benchmarks/Actors.Benchmarks [-- seconds]
var seconds = args.Length > 0 ? int.Parse(args[0]) : 5;
var duration = TimeSpan.FromSeconds(seconds);
Console.WriteLine($"Actors benchmark: {Environment.ProcessorCount} cores, {seconds} s per measurement, server GC");

await using (var memory = await BenchHost.StartAsync(new(StringComparer.Ordinal) { ["Actors:Storage"] = "InMemory" }))
{
    await Measure("in-memory calls/s, one hot actor", memory, actors: 1, workers: 1, duration);
    await Measure("in-memory calls/s, one hot actor, 16 concurrent callers", memory, actors: 1, workers: 16, duration);
    await Measure("in-memory calls/s across 10,000 actors", memory, actors: 10_000, workers: 16, duration);
    await Measure("in-memory calls/s across 100,000 actors", memory, actors: 100_000, workers: 16, duration);
}

await using (var memory = await BenchHost.StartAsync(new(StringComparer.Ordinal) { ["Actors:Storage"] = "InMemory" }))
{
    // Memory per idle activation: the heap after activating 100,000 actors whose state is an empty record.
    const int count = 100_000;
    var keys = Enumerable.Range(0, count).Select(i => $"idle-{i:D6}").ToArray();
    var before = Heap();
    foreach (var key in keys)
    {
        await memory.Actors.Get<IBenchActor>(key).PingAsync();
    }

    var after = Heap();
    var perActivation = (after - before) / (double)count;
    var keyBytes = 20 + 2 * keys[0].Length + 6; // the key string itself belongs to the caller's id, not the host
    var stateBytes = 24; // an empty record
    Console.WriteLine($"memory per idle activation: {perActivation:F0} B in all; host overhead beyond state and key: {perActivation - keyBytes - stateBytes:F0} B ({memory.ActorHost.ActivationCount:N0} live)");
    GC.KeepAlive(keys);
}

await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
await using (var durable = await BenchHost.StartAsync(new(StringComparer.Ordinal) { ["Actors:Database"] = postgres.ConnectionString() }))
{
    await Measure("write-through calls/s to PostgreSQL (durable commits), 1,000 actors", durable, actors: 1_000, workers: 32, duration, write: true);
}

static long Heap()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    return GC.GetTotalMemory(forceFullCollection: true);
}

static async Task Measure(string name, BenchHost host, int actors, int workers, TimeSpan duration, bool write = false)
{
    var references = Enumerable.Range(0, actors).Select(i => host.Actors.Get<IBenchActor>($"{name.Length}-{i}")).ToArray();
    foreach (var actor in references)
    {
        await actor.PingAsync(); // activate first: measure calls, not activations
    }

    var stop = Stopwatch.StartNew();
    long calls = 0;
    var latencies = new List<double>[workers];
    await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
    {
        var random = new Random(worker);
        var mine = latencies[worker] = new List<double>(100_000);
        long done = 0;
        while (stop.Elapsed < duration)
        {
            for (var i = 0; i < 256; i++)
            {
                var actor = references[random.Next(references.Length)];
                if (write)
                {
                    var started = Stopwatch.GetTimestamp();
                    await actor.AddAsync(1);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                else
                {
                    await actor.IncrementAsync();
                }
            }

            done += 256;
        }

        Interlocked.Add(ref calls, done);
    })));
    var rate = calls / stop.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    var p99 = all.Length > 0 ? $", p99 {all[(int)(all.Length * 0.99)]:F2} ms" : "";
    Console.WriteLine($"{name}: {rate:N0}{p99}");
}
