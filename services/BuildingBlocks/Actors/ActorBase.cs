using Transformation.EventBus;

namespace Transformation.Actors;

/// <summary>
/// The base of every actor class (Orleans' Grain). One instance serves one activation: its calls run one at a
/// time, each to completion across its awaits, so the actor's fields need no locks.
/// </summary>
public abstract class ActorBase
{
    private Activation? _activation;

    internal Activation Activation => _activation ?? throw new InvalidOperationException("The actor is not activated.");

    /// <summary>The key this actor is addressed by.</summary>
    public string Id => Activation.Key.Id;

    internal void Attach(Activation activation) => _activation = activation;

    /// <summary>Runs after the state is read, before the first call (Orleans' OnActivateAsync).</summary>
    protected internal virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs as the last turn of the activation; best effort: it does not run if the process dies.</summary>
    protected internal virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivates this activation once the current call ends; later calls go to a new activation.</summary>
    protected void DeactivateOnIdle() => Activation.RequestDeactivation(DeactivationReason.Requested);

    /// <summary>
    /// A timer whose ticks run as turns of this activation (never beside a call, never overlapping: the next
    /// tick is scheduled when a tick ends). It dies with the activation and does not keep it alive.
    /// </summary>
    protected IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period) =>
        Activation.RegisterTimer(callback, dueTime, period);

    /// <summary>A durable reminder: it survives deactivation and restarts and activates the actor when due (<see cref="IRemindable"/>).</summary>
    protected Task RegisterOrUpdateReminderAsync(string name, TimeSpan dueTime, TimeSpan period, CancellationToken cancellationToken = default) =>
        Activation.Host.Reminders.RegisterOrUpdateAsync(Activation.Key, name, dueTime, period, cancellationToken);

    protected Task UnregisterReminderAsync(string name, CancellationToken cancellationToken = default) =>
        Activation.Host.Reminders.UnregisterAsync(Activation.Key, name, cancellationToken);

    internal virtual Task ReadStateAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>An actor with one persisted state record (Orleans' IPersistentState&lt;T&gt;): read before activation, written explicitly.</summary>
public abstract class Actor<TState> : ActorBase
    where TState : class, new()
{
    private int _version;

    /// <summary>The state as last read or written; replace it through <c>WriteStateAsync</c>.</summary>
    protected TState State { get; private set; } = new();

    /// <summary>Whether a stored record exists (false before the first write).</summary>
    protected bool RecordExists => _version > 0;

    /// <summary>
    /// Stores <paramref name="next"/> if the stored version is still the one read (the ETag), together with
    /// <paramref name="events"/> in the same transaction (the event bus outbox). On a version mismatch it throws
    /// <see cref="InconsistentStateException"/>: the call fails and the activation is dropped.
    /// </summary>
    protected Task WriteStateAsync(TState next, IReadOnlyCollection<OutgoingEvent>? events = null, CancellationToken cancellationToken = default) =>
        WriteStateAsync(next, events ?? [], null, cancellationToken);

    /// <summary>
    /// As <see cref="WriteStateAsync(TState, IReadOnlyCollection{OutgoingEvent}?, CancellationToken)"/>, and runs <paramref name="alongside"/>
    /// (an audit row, say) in the same transaction.
    /// </summary>
    protected async Task WriteStateAsync(TState next, IReadOnlyCollection<OutgoingEvent> events, StateWriteStatement? alongside,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(events);
        _version = await Activation.Host.StateStore.WriteAsync(Activation.Key, next, _version, events, alongside, cancellationToken);
        State = next;
    }

    /// <summary>Deletes the stored record (ETag-checked); the state returns to a new <typeparamref name="TState"/>.</summary>
    protected async Task ClearStateAsync(CancellationToken cancellationToken = default)
    {
        await Activation.Host.StateStore.ClearAsync(Activation.Key, _version, cancellationToken);
        _version = 0;
        State = new TState();
    }

    internal override async Task ReadStateAsync(CancellationToken cancellationToken)
    {
        var stored = await Activation.Host.StateStore.ReadAsync<TState>(Activation.Key, cancellationToken);
        State = stored.State ?? new TState();
        _version = stored.Version;
    }
}
