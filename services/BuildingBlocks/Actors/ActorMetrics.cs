using System.Diagnostics.Metrics;

namespace Transformation.Actors;

/// <summary>The actor host's instruments, on the meter "Transformation.Actors".</summary>
public sealed class ActorMetrics : IDisposable
{
    public const string MeterName = "Transformation.Actors";

    private readonly Meter _meter = new(MeterName);
    private readonly UpDownCounter<long> _activations;
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _callDuration;
    private readonly Counter<long> _deactivations;
    private readonly Counter<long> _etagConflicts;

    public ActorMetrics()
    {
        _activations = _meter.CreateUpDownCounter<long>("actors.activations", description: "Live activations.");
        _calls = _meter.CreateCounter<long>("actors.calls", description: "Calls made to actors.");
        _callDuration = _meter.CreateHistogram<double>("actors.call.duration", "ms", "Time from a turn's start to its end.");
        _deactivations = _meter.CreateCounter<long>("actors.deactivations", description: "Activations ended, by reason.");
        _etagConflicts = _meter.CreateCounter<long>("actors.etag_conflicts", description: "State writes refused because another activation wrote first.");
    }

    public void Dispose() => _meter.Dispose();

    internal void ObserveMailboxes(Func<long> queued) =>
        _meter.CreateObservableGauge("actors.mailbox.length", queued, description: "Calls waiting in mailboxes.");

    internal void Activated(string type) => _activations.Add(1, new KeyValuePair<string, object?>("actor.type", type));

    internal void Deactivated(string type, DeactivationReason reason)
    {
        _activations.Add(-1, new KeyValuePair<string, object?>("actor.type", type));
        _deactivations.Add(1, new("actor.type", type), new("reason", reason.ToString()));
    }

    internal void CallStarted(string type)
    {
        if (_calls.Enabled)
        {
            _calls.Add(1, new KeyValuePair<string, object?>("actor.type", type));
        }
    }

    internal void CallEnded(string type, TimeSpan duration)
    {
        if (_callDuration.Enabled)
        {
            _callDuration.Record(duration.TotalMilliseconds, new KeyValuePair<string, object?>("actor.type", type));
        }
    }

    internal void EtagConflict(string type) => _etagConflicts.Add(1, new KeyValuePair<string, object?>("actor.type", type));
}
