using System.Diagnostics.Metrics;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

/// <summary>The event bus's instruments, on the service's Meter.</summary>
public sealed class EventBusMetrics
{
    private long _outboxBacklog;

    public EventBusMetrics(ServiceTelemetry telemetry)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        var meter = telemetry.Meter;
        meter.CreateObservableGauge("eventbus.outbox.backlog", () => Interlocked.Read(ref _outboxBacklog), "{event}",
            "Outbox events not yet published, as last counted by the relay.");
        Published = meter.CreateCounter<long>("eventbus.published", "{event}", "Events published and confirmed.");
        PublishFailures = meter.CreateCounter<long>("eventbus.publish.failures", "{batch}", "Relay batches that failed to publish.");
        Handled = meter.CreateCounter<long>("eventbus.handled", "{event}", "Events handled (or recognised as duplicates), by topic.");
        HandlerFailures = meter.CreateCounter<long>("eventbus.handler.failures", "{attempt}", "Handler attempts that threw, by topic.");
        DeadLettered = meter.CreateCounter<long>("eventbus.dead_lettered", "{event}", "Events given up on and dead-lettered, by topic.");
        Replayed = meter.CreateCounter<long>("eventbus.replayed", "{event}", "Dead-lettered events re-published by the operator.");
        DeliveryLatency = meter.CreateHistogram<double>("eventbus.delivery.latency", "ms", "From the event's time to its handler's commit.");
    }

    public Counter<long> Published { get; }

    public Counter<long> PublishFailures { get; }

    public Counter<long> Handled { get; }

    public Counter<long> HandlerFailures { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> Replayed { get; }

    public Histogram<double> DeliveryLatency { get; }

    public long OutboxBacklog => Interlocked.Read(ref _outboxBacklog);

    internal void SetOutboxBacklog(long value) => Interlocked.Exchange(ref _outboxBacklog, value);
}
