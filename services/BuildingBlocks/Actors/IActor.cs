namespace Transformation.Actors;

/// <summary>
/// Marks an actor interface (Orleans' IGrainWithStringKey): an <c>I&lt;Noun&gt;Actor</c> keyed by a string, whose
/// methods are coarse, asynchronous (returning Task or Task&lt;T&gt;) and take and return immutable records.
/// </summary>
public interface IActor;

/// <summary>An actor that receives the ticks of its durable reminders (Orleans' IRemindable).</summary>
public interface IRemindable
{
    Task ReceiveReminderAsync(string name, CancellationToken cancellationToken);
}

/// <summary>
/// On an actor interface's method: the call only reads, so it may run at the same time as other read-only
/// calls of the same activation (never beside a call that may write). Orleans' [ReadOnly].
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ReadOnlyAttribute : Attribute;

public enum DeactivationReason
{
    /// <summary>Unused for longer than the collection age.</summary>
    Idle,

    /// <summary>The actor asked for it (<see cref="ActorBase.DeactivateOnIdle"/>).</summary>
    Requested,

    /// <summary>A call failed with <see cref="InconsistentStateException"/>: the next call re-reads the state.</summary>
    InconsistentState,

    /// <summary>The host is stopping.</summary>
    Shutdown,
}

/// <summary>
/// The stored state's version differs from the one this activation read: another activation (in another
/// process) wrote it. The call fails and the activation is dropped, so the next call re-reads the state.
/// </summary>
public sealed class InconsistentStateException(string actorType, string actorId, int expectedVersion)
    : Exception($"The state of {actorType}/{actorId} is no longer at version {expectedVersion}: another activation wrote it.")
{
    public string ActorType { get; } = actorType;

    public string ActorId { get; } = actorId;

    public int ExpectedVersion { get; } = expectedVersion;
}
