using System.Diagnostics;
using Transformation.Grains.Benchmarks;
using Transformation.ServerProcesses;

// Usage: dotnet run -c Release --project benchmarks/Grains.Benchmarks [-- seconds]
var seconds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
var duration = TimeSpan.FromSeconds(seconds);
Console.WriteLine($"Grains benchmark (Orleans, as AddGrains hosts it): {Environment.ProcessorCount} cores, {seconds} s per measurement, server GC");

// The silo's reminder table needs a database even when no grain writes; the write-through part needs durable commits.
await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true });
var database = await postgres.CreateDatabaseAsync("bench");

await using (var memory = await BenchHost.StartAsync(database, writeThrough: false))
{
    await Measure("in-memory calls/s, one hot grain", memory, grains: 1, workers: 1, duration);
    await Measure("in-memory calls/s, one hot grain, 16 concurrent callers", memory, grains: 1, workers: 16, duration);
    await Measure("in-memory calls/s across 10,000 grains", memory, grains: 10_000, workers: 16, duration);
    await Measure("in-memory calls/s across 100,000 grains", memory, grains: 100_000, workers: 16, duration);
}

await using (var memory = await BenchHost.StartAsync(database, writeThrough: false))
{
    // Memory per idle activation: the heap after activating 100,000 grains that hold two longs and a field.
    const int count = 100_000;
    var keys = Enumerable.Range(0, count).Select(i => $"idle-{i:D6}").ToArray();
    var before = Heap();
    await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (key, _) => await memory.Grains.GetGrain<IBenchGrain>(key).PingAsync());
    var after = Heap();
    Console.WriteLine($"memory per idle activation: {(after - before) / (double)count:F0} B in all (heap {before / 1048576.0:F0} → {after / 1048576.0:F0} MiB)");
    GC.KeepAlive(keys);
}

await using (var durable = await BenchHost.StartAsync(database, writeThrough: true))
{
    await Measure("write-through calls/s to PostgreSQL (durable commits), 1,000 grains", durable, grains: 1_000, workers: 32, duration, write: true);
}

static long Heap()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    return GC.GetTotalMemory(forceFullCollection: true);
}

static async Task Measure(string name, BenchHost host, int grains, int workers, TimeSpan duration, bool write = false)
{
    var references = Enumerable.Range(0, grains).Select(i => host.Grains.GetGrain<IBenchGrain>($"{name.Length}-{i}")).ToArray();
    // Activate first: measure calls, not activations.
    await Parallel.ForEachAsync(references, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (grain, _) => await grain.PingAsync());

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
                var grain = references[random.Next(references.Length)];
                if (write)
                {
                    var started = Stopwatch.GetTimestamp();
                    await grain.AddAsync(1);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                else
                {
                    await grain.IncrementAsync();
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
