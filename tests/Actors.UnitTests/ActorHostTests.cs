namespace Transformation.Actors.UnitTests;

public sealed class ActorHostTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ConcurrentCallsToOneKeyShareOneActivation()
    {
        await using var host = await TestHost.StartAsync();

        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => host.Actors.Get<ITallyActor>("a").AddAsync(1))));

        host.Journal.Count("activate a total=0").ShouldBe(1);
        host.ActorHost.ActivationCount.ShouldBe(1);
        (await host.Actors.Get<ITallyActor>("a").GetAsync()).ShouldBe(new Tally(200, 200));
    }

    [Fact]
    public async Task CallsOfOneActorNeverOverlapEvenAcrossAwaits()
    {
        await using var host = await TestHost.StartAsync();

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => Task.Run(() => host.Actors.Get<ITallyActor>("a").AddSlowlyAsync(1))));

        host.Journal.Overlaps.ShouldBe(0);
        results.Order().ShouldBe(Enumerable.Range(1, 300)); // each call saw every earlier one: no lost update
    }

    [Fact]
    public async Task CallsOfDifferentActorsRunInParallel()
    {
        await using var host = await TestHost.StartAsync();
        var gate = new TaskCompletionSource();

        var first = host.Actors.Get<ITallyActor>("a").ReadSlowlyAsync(gate);
        var second = host.Actors.Get<ITallyActor>("b").ReadSlowlyAsync(gate);
        await WaitUntilAsync(() => host.Journal.ConcurrentReaders == 2);
        gate.SetResult();

        await Task.WhenAll(first, second);
    }

    [Fact]
    public async Task ReadOnlyCallsInterleaveWithEachOtherButNotWithWrites()
    {
        await using var host = await TestHost.StartAsync();
        var actor = host.Actors.Get<ITallyActor>("a");
        await actor.AddAsync(5); // activated: read-only calls may now share turns
        var gate = new TaskCompletionSource();

        var readers = Enumerable.Range(0, 3).Select(_ => actor.ReadSlowlyAsync(gate)).ToList();
        await WaitUntilAsync(() => host.Journal.ConcurrentReaders == 3);
        var write = actor.AddSlowlyAsync(1);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        write.IsCompleted.ShouldBeFalse(); // the write waits for the readers
        gate.SetResult();

        (await Task.WhenAll(readers)).ShouldAllBe(total => total == 5);
        (await write).ShouldBe(6);
        host.Journal.MaxConcurrentReaders.ShouldBe(3);
        host.Journal.Overlaps.ShouldBe(0);
    }

    [Fact]
    public async Task TheStateIsReadBeforeTheActivationHookRuns()
    {
        var store = new InMemoryActorStateStore();
        await store.WriteAsync(new ActorKey("tally", "a"), new Tally(42, 1), 0, [], null, TestContext.Current.CancellationToken);
        await using var host = await TestHost.StartAsync(store);

        (await host.Actors.Get<ITallyActor>("a").AddAsync(1)).ShouldBe(43);
        host.Journal.Events.ShouldContain("activate a total=42");
    }

    [Fact]
    public async Task AFailedStateReadFailsTheCallAndLeavesNoActivation()
    {
        var store = new FlakyStore(failingReads: 1);
        await using var host = await TestHost.StartAsync(store);
        var actor = host.Actors.Get<ITallyActor>("a");

        await Should.ThrowAsync<IOException>(() => actor.AddAsync(1));
        host.ActorHost.ActivationCount.ShouldBe(0);
        host.Journal.Events.ShouldBeEmpty(); // the activation hook never ran

        (await actor.AddAsync(1)).ShouldBe(1);
        host.Journal.Count("activate a total=0").ShouldBe(1);
    }

    [Fact]
    public async Task AnIdleActivationIsCollectedAndTheNextCallReactivatesIt()
    {
        await using var host = await TestHost.StartAsync();
        var actor = host.Actors.Get<ITallyActor>("a");
        await actor.AddAsync(3);

        host.ActorHost.CollectIdle(TimeSpan.FromHours(1)).ShouldBe(0); // used just now
        host.ActorHost.CollectIdle(TimeSpan.Zero).ShouldBe(1);
        await WaitUntilAsync(() => host.ActorHost.ActivationCount == 0);
        host.Journal.Events.ShouldContain("deactivate a Idle");

        (await actor.AddAsync(1)).ShouldBe(4);
        host.Journal.Count("activate a total=3").ShouldBe(1);
    }

    [Fact]
    public async Task AnActorCanAskToBeDeactivatedAndQueuedCallsMoveToItsNextActivation()
    {
        await using var host = await TestHost.StartAsync();
        var actor = host.Actors.Get<ITallyActor>("a");

        var calls = Enumerable.Range(0, 50)
            .Select(i => i % 10 == 0 ? actor.AddThenDeactivateAsync(1) : actor.AddAsync(1))
            .ToList();
        await Task.WhenAll(calls);

        (await actor.GetAsync()).Total.ShouldBe(50);
        host.Journal.Count("deactivate a Requested").ShouldBeGreaterThanOrEqualTo(1);
        host.Journal.Events.Count(e => e.StartsWith("activate a", StringComparison.Ordinal)).ShouldBeGreaterThan(1);
    }

    [Fact]
    public async Task ShutdownDeactivatesEveryActivationWhichPersistsWhatItChooses()
    {
        var store = new InMemoryActorStateStore();
        var host = await TestHost.StartAsync(store);
        foreach (var key in new[] { "a", "b", "c" })
        {
            await host.Actors.Get<ITallyActor>(key).AddAsync(1);
        }

        await host.StopAsync();

        host.Journal.Events.Count(e => e.EndsWith(" Shutdown", StringComparison.Ordinal)).ShouldBe(3);
        host.ActorHost.ActivationCount.ShouldBe(0);
        (await store.ReadAsync<Tally>(new ActorKey("tally", "b"), CancellationToken.None)).State.ShouldBe(new Tally(1, 1001));
        await Should.ThrowAsync<InvalidOperationException>(() => host.Actors.Get<ITallyActor>("a").GetAsync());
        await host.DisposeAsync();
    }

    [Fact]
    public async Task AWriteAfterAnotherActivationWroteFailsDropsTheActivationAndTheNextCallRereads()
    {
        var store = new InMemoryActorStateStore();
        await using var host = await TestHost.StartAsync(store);
        var actor = host.Actors.Get<ITallyActor>("a");
        await actor.AddAsync(1);

        // Another process's activation writes version 2.
        await store.WriteAsync(new ActorKey("tally", "a"), new Tally(100, 7), 1, [], null, CancellationToken.None);

        await Should.ThrowAsync<InconsistentStateException>(() => actor.AddAsync(1));
        await WaitUntilAsync(() => host.Journal.Count("deactivate a InconsistentState") == 1);
        (await actor.AddAsync(1)).ShouldBe(101);
    }

    [Fact]
    public async Task TimerTicksRunAsTurnsNeverOverlapAndDieWithTheActivation()
    {
        await using var host = await TestHost.StartAsync();
        var actor = host.Actors.Get<ITallyActor>("a");

        // Ticks due every 5 ms that take 20 ms: they would overlap if the next were not scheduled after the last.
        await actor.StartTimerAsync(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20));
        for (var i = 0; i < 20; i++)
        {
            await actor.AddSlowlyAsync(1);
        }

        await WaitUntilAsync(() => host.Journal.Ticks >= 5);
        host.Journal.TickOverlaps.ShouldBe(0);
        host.Journal.Overlaps.ShouldBe(0);

        // A ticking timer does not keep the activation alive, and it stops with it.
        await WaitUntilAsync(() => host.ActorHost.CollectIdle(TimeSpan.Zero) == 1 || host.ActorHost.ActivationCount == 0);
        await WaitUntilAsync(() => host.ActorHost.ActivationCount == 0);
        var ticks = host.Journal.Ticks;
        await Task.Delay(200, TestContext.Current.CancellationToken);
        host.Journal.Ticks.ShouldBe(ticks);
        host.ActorHost.ActivationCount.ShouldBe(0);
    }

    [Fact]
    public void AnActorMethodThatIsNotAsynchronousIsRefusedNamingIt()
    {
        var error = Should.Throw<InvalidOperationException>(() =>
            new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddActor<IBadActor, BadActor>("bad"));

        error.Message.ShouldContain("IBadActor.Count returns Int32");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            waited.Elapsed.ShouldBeLessThan(Patience, "the condition never held");
            await Task.Delay(5);
        }
    }

    public interface IBadActor : IActor
    {
        int Count();
    }

    public sealed class BadActor : Actor<Tally>, IBadActor
    {
        public int Count() => State.Total;
    }

    /// <summary>An in-memory store whose first reads fail, as a database that is down would.</summary>
    private sealed class FlakyStore(int failingReads) : IActorStateStore
    {
        private readonly InMemoryActorStateStore _inner = new();
        private int _failuresLeft = failingReads;

        public Task<StoredState<TState>> ReadAsync<TState>(ActorKey key, CancellationToken cancellationToken) =>
            Interlocked.Decrement(ref _failuresLeft) >= 0
                ? Task.FromException<StoredState<TState>>(new IOException("The database is down."))
                : _inner.ReadAsync<TState>(key, cancellationToken);

        public Task<int> WriteAsync<TState>(ActorKey key, TState state, int expectedVersion, IReadOnlyCollection<EventBus.OutgoingEvent> events,
            StateWriteStatement? alongside, CancellationToken cancellationToken) =>
            _inner.WriteAsync(key, state, expectedVersion, events, alongside, cancellationToken);

        public Task ClearAsync(ActorKey key, int expectedVersion, CancellationToken cancellationToken) =>
            _inner.ClearAsync(key, expectedVersion, cancellationToken);
    }
}
