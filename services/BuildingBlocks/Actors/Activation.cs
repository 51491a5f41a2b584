using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Transformation.Actors;

/// <summary>
/// The one live instance of an actor in this process, with its mailbox. Calls run as turns, one at a time,
/// each to completion across its awaits; read-only calls may share a turn with other read-only calls. The
/// first turn reads the state and runs the activation hook; the last runs the deactivation hook.
/// </summary>
internal sealed class Activation
{
    private readonly Lock _lock = new();
    private Queue<WorkItem>? _mailbox;
    private int _runningReaders;
    private bool _runningExclusive;
    private Status _status;
    private DeactivationReason? _pendingDeactivation;
    private List<ActorTimer>? _timers;
    private TaskCompletionSource? _deactivated;
    private ActorBase? _actor;

    public Activation(ActorHost host, ActorRegistration registration, ActorKey key)
    {
        Host = host;
        Registration = registration;
        Key = key;
        LastUsed = Environment.TickCount64;
    }

    private enum Status
    {
        Created,
        Active,
        Deactivated,
    }

    public ActorHost Host { get; }

    public ActorRegistration Registration { get; }

    public ActorKey Key { get; }

    /// <summary>When a call last started (Environment.TickCount64); timer ticks do not count.</summary>
    public long LastUsed { get; private set; }

    public int MailboxLength
    {
        get
        {
            lock (_lock)
            {
                return _mailbox?.Count ?? 0;
            }
        }
    }

    /// <summary>Starts the call now if the activation is free, else queues it; false if this activation is gone.</summary>
    public bool TrySubmit<TResult>(Func<ActorBase, Task<TResult>> call, bool readOnly, out Task<TResult> result)
    {
        bool exclusive;
        lock (_lock)
        {
            if (_status == Status.Deactivated)
            {
                result = null!;
                return false;
            }

            exclusive = !readOnly || _status == Status.Created;
            if (_mailbox is { Count: > 0 } || !CanStart(exclusive))
            {
                var item = new CallItem<TResult>(call, readOnly);
                (_mailbox ??= new Queue<WorkItem>()).Enqueue(item);
                result = item.Task;
                return true;
            }

            Begin(exclusive);
        }

        result = RunTurnAsync(call, exclusive, keepAlive: true);
        return true;
    }

    /// <summary>Queues a work item moved here from an activation that was deactivated meanwhile.</summary>
    public bool TrySubmit(WorkItem item)
    {
        lock (_lock)
        {
            if (_status == Status.Deactivated)
            {
                return false;
            }

            (_mailbox ??= new Queue<WorkItem>()).Enqueue(item);
        }

        StartQueued();
        return true;
    }

    /// <summary>Runs one call as a turn; the caller has already claimed the turn with <see cref="Begin"/>.</summary>
    public async Task<TResult> RunTurnAsync<TResult>(Func<ActorBase, Task<TResult>> call, bool exclusive, bool keepAlive)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (_status == Status.Created)
            {
                await ActivateAsync();
            }

            if (keepAlive)
            {
                LastUsed = Environment.TickCount64;
            }

            return await call(_actor!);
        }
        catch (InconsistentStateException)
        {
            Host.Metrics.EtagConflict(Key.Type);
            RequestDeactivation(DeactivationReason.InconsistentState);
            throw;
        }
        finally
        {
            Host.Metrics.CallEnded(Key.Type, Stopwatch.GetElapsedTime(started));
            EndTurn(exclusive);
        }
    }

    public void RequestDeactivation(DeactivationReason reason)
    {
        lock (_lock)
        {
            _pendingDeactivation ??= reason;
        }
    }

    /// <summary>Deactivates now if no call runs or waits (and, for idle collection, none started since <paramref name="unusedSince"/>).</summary>
    public bool TryDeactivateIfIdle(DeactivationReason reason, long unusedSince = long.MaxValue)
    {
        lock (_lock)
        {
            if (_status != Status.Active || _runningExclusive || _runningReaders > 0 || _mailbox is { Count: > 0 } || LastUsed > unusedSince)
            {
                return false;
            }

            _runningExclusive = true;
        }

        _ = RunDeactivationAsync(reason);
        return true;
    }

    /// <summary>Deactivates as soon as the running calls end (queued ones move on); completes when the activation is gone.</summary>
    public Task DeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Task done;
        var startNow = false;
        lock (_lock)
        {
            if (_status == Status.Deactivated)
            {
                return Task.CompletedTask;
            }

            _pendingDeactivation ??= reason;
            done = (_deactivated ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            if (!_runningExclusive && _runningReaders == 0)
            {
                _runningExclusive = true;
                startNow = true;
            }
        }

        if (startNow)
        {
            _ = RunDeactivationAsync(reason);
        }

        return done.WaitAsync(cancellationToken);
    }

    public IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ActorTimer(this, callback, period);
        lock (_lock)
        {
            (_timers ??= []).Add(timer);
        }

        timer.Start(dueTime);
        return timer;
    }

    public void RemoveTimer(ActorTimer timer)
    {
        lock (_lock)
        {
            _timers?.Remove(timer);
        }
    }

    /// <summary>A timer tick: a turn that does not keep the activation alive; dropped if the activation is gone.</summary>
    public void SubmitTick(ActorTimer timer) => TrySubmit(new TickItem(timer));

    private bool CanStart(bool exclusive) => exclusive ? !_runningExclusive && _runningReaders == 0 : !_runningExclusive;

    private void Begin(bool exclusive)
    {
        if (exclusive)
        {
            _runningExclusive = true;
        }
        else
        {
            _runningReaders++;
        }
    }

    private void EndTurn(bool exclusive)
    {
        DeactivationReason? deactivate = null;
        lock (_lock)
        {
            if (exclusive)
            {
                _runningExclusive = false;
            }
            else
            {
                _runningReaders--;
            }

            if (_pendingDeactivation is { } reason && _status != Status.Deactivated && !_runningExclusive && _runningReaders == 0)
            {
                _runningExclusive = true;
                deactivate = reason;
            }
        }

        if (deactivate is { } why)
        {
            _ = RunDeactivationAsync(why);
        }
        else
        {
            StartQueued();
        }
    }

    /// <summary>Starts what may start from the head of the mailbox: one exclusive call, or a run of read-only ones.</summary>
    private void StartQueued()
    {
        while (true)
        {
            WorkItem item;
            lock (_lock)
            {
                // Once a deactivation is pending nothing new starts here: the queue moves to the next activation.
                if (_mailbox is not { Count: > 0 } || _status == Status.Deactivated || _pendingDeactivation is not null)
                {
                    return;
                }

                var next = _mailbox.Peek();
                var exclusive = !next.ReadOnly || _status == Status.Created;
                if (!CanStart(exclusive))
                {
                    return;
                }

                item = _mailbox.Dequeue();
                Begin(exclusive);
                item.Exclusive = exclusive;
            }

            // Off this thread: a call that completes synchronously must not deepen the stack of the one that ended.
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.activation.Run(state.item), (activation: this, item), preferLocal: false);
        }
    }

    private void Run(WorkItem item) => item.Run(this);

    private async Task ActivateAsync()
    {
        var actor = (ActorBase)ActivatorUtilities.CreateInstance(Host.Services, Registration.ImplementationType);
        actor.Attach(this);
        try
        {
            await actor.ReadStateAsync(Host.Stopping);
            await actor.OnActivateAsync(Host.Stopping);
        }
        catch
        {
            // No activation is left behind: calls waiting here go to a new activation, which reads again.
            lock (_lock)
            {
                _status = Status.Deactivated;
            }

            Host.Remove(this);
            Redirect();
            throw;
        }

        _actor = actor;
        lock (_lock)
        {
            _status = Status.Active;
        }

        Host.Metrics.Activated(Key.Type);
    }

    /// <summary>The last turn: the deactivation hook, then the activation leaves the directory.</summary>
    private async Task RunDeactivationAsync(DeactivationReason reason)
    {
        var wasActive = _actor is not null;
        try
        {
            if (wasActive)
            {
                await _actor!.OnDeactivateAsync(reason, CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            Host.Logger.LogWarning(e, "Deactivating {Actor} failed", Key);
        }
        finally
        {
            List<ActorTimer>? timers;
            TaskCompletionSource? deactivated;
            lock (_lock)
            {
                _status = Status.Deactivated;
                _runningExclusive = false;
                timers = _timers;
                _timers = null;
                deactivated = _deactivated;
            }

            foreach (var timer in timers ?? [])
            {
                timer.Dispose();
            }

            Host.Remove(this);
            if (wasActive)
            {
                Host.Metrics.Deactivated(Key.Type, reason);
            }

            Redirect();
            deactivated?.TrySetResult();
        }
    }

    /// <summary>Hands the calls still queued here to the actor's next activation.</summary>
    private void Redirect()
    {
        Queue<WorkItem>? orphans;
        lock (_lock)
        {
            orphans = _mailbox;
            _mailbox = null;
        }

        foreach (var item in orphans ?? [])
        {
            Host.Redirect(Key, item);
        }
    }
}

/// <summary>A queued turn.</summary>
internal abstract class WorkItem
{
    public abstract bool ReadOnly { get; }

    /// <summary>Decided when the turn is claimed: a read-only call is exclusive when it must also activate.</summary>
    public bool Exclusive { get; set; }

    /// <summary>Timer ticks die with their activation; calls follow the actor to its next activation.</summary>
    public abstract bool FollowsActor { get; }

    public abstract void Run(Activation activation);

    public abstract void Fail(Exception error);
}

internal sealed class CallItem<TResult>(Func<ActorBase, Task<TResult>> call, bool readOnly) : WorkItem
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResult> Task => _completion.Task;

    public override bool ReadOnly => readOnly;

    public override bool FollowsActor => true;

    public override async void Run(Activation activation)
    {
        try
        {
            _completion.TrySetResult(await activation.RunTurnAsync(call, Exclusive, keepAlive: true));
        }
        catch (Exception e)
        {
            _completion.TrySetException(e);
        }
    }

    public override void Fail(Exception error) => _completion.TrySetException(error);
}

internal sealed class TickItem(ActorTimer timer) : WorkItem
{
    public override bool ReadOnly => false;

    public override bool FollowsActor => false;

    public override async void Run(Activation activation)
    {
        try
        {
            await activation.RunTurnAsync(async actor =>
            {
                await timer.TickAsync(activation.Host.Stopping);
                return true;
            }, Exclusive, keepAlive: false);
        }
        catch (Exception e)
        {
            activation.Host.Logger.LogWarning(e, "A timer of {Actor} failed", activation.Key);
        }
        finally
        {
            timer.ScheduleNext();
        }
    }

    public override void Fail(Exception error)
    {
    }
}

/// <summary>A one-shot timer re-armed after each tick's turn ends, so ticks never overlap.</summary>
internal sealed class ActorTimer(Activation activation, Func<CancellationToken, Task> callback, TimeSpan period) : IDisposable
{
    private Timer? _timer;
    private volatile bool _disposed;

    public void Start(TimeSpan dueTime) => _timer = new Timer(static state => ((ActorTimer)state!).Fire(), this, dueTime, Timeout.InfiniteTimeSpan);

    public Task TickAsync(CancellationToken cancellationToken) => _disposed ? Task.CompletedTask : callback(cancellationToken);

    public void ScheduleNext()
    {
        if (!_disposed && period > TimeSpan.Zero)
        {
            _timer?.Change(period, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
        activation.RemoveTimer(this);
    }

    private void Fire()
    {
        if (!_disposed)
        {
            activation.SubmitTick(this);
        }
    }
}
