using System.Collections.Concurrent;
using System.Collections.Frozen;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Transformation.Actors;

/// <summary>
/// The activations of this process (Orleans' silo catalog): at most one per actor key, created by the first
/// call, collected when idle, all deactivated at shutdown.
/// </summary>
public sealed class ActorHost : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<ActorKey, Activation> _activations = new();
    private readonly FrozenDictionary<Type, ActorRegistration> _byInterface;
    private readonly FrozenDictionary<string, ActorRegistration> _byName;
    private readonly ActorOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _collector;

    internal ActorHost(IServiceProvider services, IEnumerable<ActorRegistration> registrations, IActorStateStore stateStore,
        ActorReminders reminders, ActorMetrics metrics, IOptions<ActorOptions> options, ILogger<ActorHost> logger)
    {
        var all = registrations.ToList();
        foreach (var duplicate in all.GroupBy(r => r.TypeName, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            throw new InvalidOperationException($"The actor type name '{duplicate.Key}' is registered twice: it names the stored state.");
        }

        _byInterface = all.ToFrozenDictionary(r => r.InterfaceType);
        _byName = all.ToFrozenDictionary(r => r.TypeName, StringComparer.Ordinal);
        Services = services;
        StateStore = stateStore;
        Reminders = reminders;
        Metrics = metrics;
        Logger = logger;
        _options = options.Value;
        metrics.ObserveMailboxes(() => _activations.Values.Sum(a => (long)a.MailboxLength));
    }

    /// <summary>How many activations live in this process now.</summary>
    public int ActivationCount => _activations.Count;

    internal IServiceProvider Services { get; }

    internal IActorStateStore StateStore { get; }

    internal ActorReminders Reminders { get; }

    internal ActorMetrics Metrics { get; }

    internal ILogger Logger { get; }

    internal CancellationToken Stopping => _stopping.Token;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _collector = CollectIdleAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>Deactivates every activation (each runs its deactivation hook and persists what it chooses).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_activations.Values.Select(a => a.DeactivateAsync(DeactivationReason.Shutdown, cancellationToken)));
        if (_collector is not null)
        {
            await _collector;
        }
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>Deactivates one actor's activation, if it has one; the next call re-activates it (reading its state again).</summary>
    public Task DeactivateAsync(string actorType, string id, CancellationToken cancellationToken = default) =>
        _activations.TryGetValue(new ActorKey(actorType, id), out var activation)
            ? activation.DeactivateAsync(DeactivationReason.Requested, cancellationToken)
            : Task.CompletedTask;

    /// <summary>Deactivates those unused for longer than <paramref name="unusedFor"/>; returns how many.</summary>
    public int CollectIdle(TimeSpan unusedFor)
    {
        var unusedSince = Environment.TickCount64 - (long)unusedFor.TotalMilliseconds;
        return _activations.Values.Count(a => a.TryDeactivateIfIdle(DeactivationReason.Idle, unusedSince));
    }

    internal ActorRegistration Registration(Type interfaceType) =>
        _byInterface.TryGetValue(interfaceType, out var registration)
            ? registration
            : throw new InvalidOperationException($"No actor class is registered for {interfaceType.Name}: call AddActor<{interfaceType.Name}, …>().");

    internal Task<TResult> CallAsync<TResult>(ActorKey key, Func<ActorBase, Task<TResult>> call, bool readOnly)
    {
        while (true)
        {
            ThrowIfStopping();
            if (Activation(key).TrySubmit(call, readOnly, out var result))
            {
                Metrics.CallStarted(key.Type);
                return result;
            }
        }
    }

    internal Task DeliverReminderAsync(string actorType, string id, string name)
    {
        if (!_byName.TryGetValue(actorType, out var registration) || !typeof(IRemindable).IsAssignableFrom(registration.ImplementationType))
        {
            Logger.LogWarning("A reminder {Reminder} is due for {ActorType}/{Id}, which is not a registered IRemindable actor", name, actorType, id);
            return Task.CompletedTask;
        }

        return CallAsync(new ActorKey(actorType, id), async actor =>
        {
            await ((IRemindable)actor).ReceiveReminderAsync(name, Stopping);
            return true;
        }, readOnly: false);
    }

    /// <summary>Moves a call queued at an activation that went away to the actor's next activation.</summary>
    internal void Redirect(ActorKey key, WorkItem item)
    {
        if (!item.FollowsActor)
        {
            return;
        }

        while (true)
        {
            if (_stopping.IsCancellationRequested)
            {
                item.Fail(new InvalidOperationException($"The actor host is stopping; {key} was not called."));
                return;
            }

            if (Activation(key).TrySubmit(item))
            {
                return;
            }
        }
    }

    internal void Remove(Activation activation) => _activations.TryRemove(new KeyValuePair<ActorKey, Activation>(activation.Key, activation));

    private Activation Activation(ActorKey key) =>
        _activations.TryGetValue(key, out var existing)
            ? existing
            : _activations.GetOrAdd(key, static (k, host) => new Activation(host, host._byName[k.Type], k), this);

    private void ThrowIfStopping()
    {
        if (_stopping.IsCancellationRequested)
        {
            throw new InvalidOperationException("The actor host is stopping.");
        }
    }

    private async Task CollectIdleAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.CollectionQuantum);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                CollectIdle(_options.CollectionAge);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
