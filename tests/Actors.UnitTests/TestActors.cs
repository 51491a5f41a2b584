using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Transformation.Actors.UnitTests;

public sealed record Tally(int Total, int Calls)
{
    public Tally()
        : this(0, 0)
    {
    }
}

public interface ITallyActor : IActor
{
    Task<int> AddAsync(int amount);

    Task<int> AddSlowlyAsync(int amount);

    [ReadOnly]
    Task<int> ReadSlowlyAsync(TaskCompletionSource gate);

    Task<Tally> GetAsync();

    Task AddThenDeactivateAsync(int amount);

    Task StartTimerAsync(TimeSpan period, TimeSpan tickDuration);
}

/// <summary>What the test actors saw, shared by all activations of one host.</summary>
public sealed class Journal
{
    public ConcurrentQueue<string> Events { get; } = new();

    public int Inside;
    public int Overlaps;
    public int ConcurrentReaders;
    public int MaxConcurrentReaders;
    public int Ticks;
    public int TickOverlaps;

    public void Add(string entry) => Events.Enqueue(entry);

    public int Count(string entry) => Events.Count(e => string.Equals(e, entry, StringComparison.Ordinal));
}

public sealed class TallyActor(Journal journal) : Actor<Tally>, ITallyActor
{
    private int _ticking;

    public async Task<int> AddAsync(int amount)
    {
        await WriteStateAsync(State with { Total = State.Total + amount, Calls = State.Calls + 1 });
        return State.Total;
    }

    public async Task<int> AddSlowlyAsync(int amount)
    {
        if (Interlocked.Increment(ref journal.Inside) > 1)
        {
            Interlocked.Increment(ref journal.Overlaps);
        }

        var before = State.Total;
        await Task.Delay(1);
        await Task.Yield();
        await WriteStateAsync(State with { Total = before + amount, Calls = State.Calls + 1 });
        Interlocked.Decrement(ref journal.Inside);
        return State.Total;
    }

    public async Task<int> ReadSlowlyAsync(TaskCompletionSource gate)
    {
        var now = Interlocked.Increment(ref journal.ConcurrentReaders);
        InterlockedMax(ref journal.MaxConcurrentReaders, now);
        if (journal.Inside > 0)
        {
            Interlocked.Increment(ref journal.Overlaps);
        }

        await gate.Task;
        Interlocked.Decrement(ref journal.ConcurrentReaders);
        return State.Total;
    }

    public Task<Tally> GetAsync() => Task.FromResult(State);

    public async Task AddThenDeactivateAsync(int amount)
    {
        await AddAsync(amount);
        DeactivateOnIdle();
    }

    public Task StartTimerAsync(TimeSpan period, TimeSpan tickDuration)
    {
        RegisterTimer(async cancellationToken =>
        {
            if (Interlocked.Increment(ref _ticking) > 1 || journal.Inside > 0)
            {
                Interlocked.Increment(ref journal.TickOverlaps);
            }

            Interlocked.Increment(ref journal.Inside);
            await Task.Delay(tickDuration, cancellationToken);
            Interlocked.Decrement(ref journal.Inside);
            Interlocked.Decrement(ref _ticking);
            Interlocked.Increment(ref journal.Ticks);
        }, period, period);
        return Task.CompletedTask;
    }

    protected override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal.Add($"activate {Id} total={State.Total}");
        return Task.CompletedTask;
    }

    protected override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        journal.Add($"deactivate {Id} {reason}");
        if (reason == DeactivationReason.Shutdown)
        {
            await WriteStateAsync(State with { Calls = State.Calls + 1000 }, cancellationToken: cancellationToken);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}

/// <summary>A host with in-memory actor storage (or a given store), built and started like a service's.</summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private TestHost(IHost host) => _host = host;

    public ActorFactory Actors => _host.Services.GetRequiredService<ActorFactory>();

    public ActorHost ActorHost => _host.Services.GetRequiredService<ActorHost>();

    public Journal Journal => _host.Services.GetRequiredService<Journal>();

    public IActorStateStore Store => _host.Services.GetRequiredService<IActorStateStore>();

    public static async Task<TestHost> StartAsync(IActorStateStore? store = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Actors:Storage"] = "InMemory",
            ["Actors:CollectionQuantum"] = "01:00:00",
        });
        builder.AddActors();
        builder.Services.AddActor<ITallyActor, TallyActor>("tally");
        builder.Services.AddSingleton<Journal>();
        if (store is not null)
        {
            builder.Services.AddSingleton(store);
        }

        var host = builder.Build();
        await host.StartAsync();
        return new TestHost(host);
    }

    public Task StopAsync() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
