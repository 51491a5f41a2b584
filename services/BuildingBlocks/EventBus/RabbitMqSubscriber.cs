using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Transformation.EventBus;

/// <summary>
/// Consumes every subscription's queue: one connection, one channel per subscription with the configured
/// prefetch, and that many deliveries shared by the configured number of workers, each handling what has
/// arrived in one transaction (see <see cref="EventProcessor.ProcessBatchAsync"/>). Acks after the handler's transaction committed; nacks without requeue (so the
/// broker dead-letters to dlq-&lt;queue&gt;) once retries are exhausted. Reconnects after any broker failure.
/// </summary>
internal sealed partial class RabbitMqSubscriber(
    IEnumerable<Subscription> subscriptions,
    EventProcessor processor,
    IOptions<EventBusOptions> options,
    ILogger<RabbitMqSubscriber> logger) : BackgroundService
{
    // How long start-up waits for the queues to be declared; a broker that is down does not hold it longer.
    private static readonly TimeSpan TopologyWait = TimeSpan.FromSeconds(30);

    private readonly EventBusOptions _options = options.Value;
    private readonly List<Subscription> _subscriptions = subscriptions.ToList();
    private readonly TaskCompletionSource _topologyReady = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Returns once every subscription's queue exists and is bound (or after a bounded wait when the broker is down),
    /// so that events published after the host has started reach this service's queues.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await base.StartAsync(cancellationToken);
        await Task.WhenAny(_topologyReady.Task, Task.Delay(TopologyWait, cancellationToken));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_subscriptions.Count == 0)
        {
            _topologyReady.TrySetResult();
            return;
        }

        var rabbitMq = _options.RabbitMq ?? throw new InvalidOperationException("EventBus:RabbitMq is required to consume from RabbitMQ.");
        while (!stoppingToken.IsCancellationRequested)
        {
            IConnection? connection = null;
            try
            {
                connection = await RabbitMqConnections.ConnectAsync(rabbitMq, $"{processor.AppId}-subscriber", stoppingToken);
                var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.ConnectionShutdownAsync += (_, _) =>
                {
                    closed.TrySetResult();
                    return Task.CompletedTask;
                };
                var workers = new List<Task>();
                foreach (var subscription in _subscriptions)
                {
                    workers.AddRange(await ConsumeAsync(connection, subscription, closed, stoppingToken));
                }

                _topologyReady.TrySetResult();

                await closed.Task.WaitAsync(stoppingToken);
                LogDisconnected();
                await Task.WhenAll(workers);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogConnectFailed(exception);
            }
            finally
            {
                await RabbitMqConnections.CloseQuietlyAsync(null, connection);
            }

            await Task.Delay(_options.ReconnectDelay, CancellationToken.None);
        }
    }

    /// <summary>Starts consuming one subscription's queue; returns its workers, which end when the connection round does.</summary>
    private async Task<Task[]> ConsumeAsync(IConnection connection, Subscription subscription, TaskCompletionSource closed, CancellationToken stoppingToken)
    {
        var queue = EventNames.Queue(processor.AppId, subscription.Topic);
        var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        // A channel error (say a queue deleted under us) ends this connection's round, so that everything is redeclared.
        channel.ChannelShutdownAsync += (_, _) =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        await RabbitMqTopology.DeclareSubscriptionAsync(channel, subscription.Topic, queue, stoppingToken);
        await channel.BasicQosAsync(0, _options.PrefetchCount, global: false, stoppingToken);

        // Deliveries wait here (at most the prefetch count) for the workers; the body is copied because the client reuses its buffer.
        var deliveries = Channel.CreateUnbounded<(ulong Tag, ReadOnlyMemory<byte> Body)>(new UnboundedChannelOptions { SingleWriter = true });
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            deliveries.Writer.TryWrite((delivery.DeliveryTag, delivery.Body.ToArray())); // Refused only once the round ended: then it comes again.
            return Task.CompletedTask;
        };
        // The round's end also cancels acknowledgements in flight: RabbitMQ.Client 7.1–7.2 can otherwise wait forever to write
        // one on a socket that died mid-write (rabbitmq-dotnet-client#1930), and the round would never end to reconnect.
        var roundEnded = new CancellationTokenSource(); // No timer and no parent: nothing to dispose.
        _ = closed.Task.ContinueWith(_ =>
        {
            deliveries.Writer.TryComplete();
            roundEnded.Cancel();
        }, TaskScheduler.Default);
        await channel.BasicConsumeAsync(queue, autoAck: false, consumerTag: $"{queue}-{Guid.NewGuid():N}", consumer, stoppingToken);

        return Enumerable.Range(0, _options.Concurrency)
            .Select(_ => Task.Run(() => WorkAsync(channel, subscription, queue, deliveries.Reader, closed, roundEnded.Token, stoppingToken), CancellationToken.None))
            .ToArray();
    }

    /// <summary>Takes what has arrived (up to the batch size), handles it, then acks or nacks each delivery.</summary>
    private async Task WorkAsync(IChannel channel, Subscription subscription, string queue, ChannelReader<(ulong Tag, ReadOnlyMemory<byte> Body)> deliveries,
        TaskCompletionSource closed, CancellationToken roundEnded, CancellationToken stoppingToken)
    {
        var batch = new List<(ulong Tag, ReadOnlyMemory<byte> Body)>(_options.BatchSize);
        try
        {
            while (await deliveries.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < _options.BatchSize && deliveries.TryRead(out var delivery))
                {
                    batch.Add(delivery);
                }

                if (batch.Count == 0 || !channel.IsOpen)
                {
                    continue; // Left unacked on a dead channel: the broker redelivers them.
                }

                var outcomes = await processor.ProcessBatchAsync(subscription, batch.Select(d => d.Body).ToList(), stoppingToken);
                for (var i = 0; i < batch.Count; i++)
                {
                    if (outcomes[i] is Outcome.Handled or Outcome.Duplicate)
                    {
                        await channel.BasicAckAsync(batch[i].Tag, multiple: false, roundEnded);
                    }
                    else
                    {
                        // No requeue: the broker dead-letters it to dlx-<queue>.
                        await channel.BasicNackAsync(batch[i].Tag, multiple: false, requeue: false, roundEnded);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is not acked comes again.
        }
        catch (Exception exception) when (!channel.IsOpen || roundEnded.IsCancellationRequested)
        {
            // The channel died after a commit: the broker redelivers and the inbox makes it a no-op.
            LogAckLost(exception, queue);
        }
        catch (Exception exception)
        {
            // Unexpected: start a new round (reconnect, redeclare) rather than consume with fewer workers.
            LogWorkerFailed(exception, queue);
            closed.TrySetResult();
        }
    }

    [LoggerMessage(LogLevel.Warning, "Lost the connection to RabbitMQ; reconnecting.")]
    private partial void LogDisconnected();

    [LoggerMessage(LogLevel.Warning, "Could not consume from RabbitMQ; retrying.")]
    private partial void LogConnectFailed(Exception exception);

    [LoggerMessage(LogLevel.Error, "A worker on {Queue} failed; reconnecting.")]
    private partial void LogWorkerFailed(Exception exception, string queue);

    [LoggerMessage(LogLevel.Information, "An acknowledgement on {Queue} was lost with its channel; the message comes again.")]
    private partial void LogAckLost(Exception exception, string queue);
}
