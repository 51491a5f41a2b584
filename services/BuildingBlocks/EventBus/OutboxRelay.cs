using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Transformation.EventBus;

/// <summary>
/// Publishes outbox rows in sequence order, a batch per transaction: publish, wait for every confirm, mark
/// sent (or delete, when <see cref="EventBusOptions.SentRetention"/> is zero), commit. A failure rolls the batch back, so it is published again (subscribers' inboxes absorb the
/// repeat) after a reconnect. A transaction-scoped advisory lock lets one instance relay at a time, which
/// keeps each aggregate's events in order however many instances run.
/// </summary>
internal sealed partial class OutboxRelay(
    EventBusDataSource dataSource,
    IEventPublisher publisher,
    IOptions<EventBusOptions> options,
    EventBusMetrics metrics,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const long RelayLock = 0x4F_75_74_62_6F_78; // "Outbox"
    private static readonly TimeSpan BacklogCountInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CleanupInterval = TimeSpan.FromMinutes(5);

    private readonly EventBusOptions _options = options.Value;
    private readonly Stopwatch _sinceBacklogCount = new();
    private readonly Stopwatch _sinceCleanup = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await RelayBatchAsync(stoppingToken) == 0)
                {
                    await CleanUpAsync(stoppingToken);
                    await Task.Delay(_options.RelayPollInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogRelayFailed(exception);
                metrics.PublishFailures.Add(1);
                await publisher.ResetAsync();
                await Task.Delay(_options.ReconnectDelay, CancellationToken.None);
            }
        }

        await DrainAsync();
    }

    /// <summary>On shutdown, publishes what is still waiting, for a few seconds at most; the rest goes at the next start.</summary>
    private async Task DrainAsync()
    {
        using var timeout = new CancellationTokenSource(DrainTimeout);
        try
        {
            while (await RelayBatchAsync(timeout.Token) > 0)
            {
            }
        }
        catch (Exception exception)
        {
            LogDrainStopped(exception);
        }
        finally
        {
            await publisher.DisposeAsync();
        }
    }

    /// <summary>Relays one batch; returns how many rows it published (0 when idle or another instance holds the lock).</summary>
    internal async Task<int> RelayBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.Value.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var tryLock = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock({RelayLock})", connection, transaction))
        {
            if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
            {
                return 0;
            }
        }

        var batch = await ReadUnsentAsync(connection, transaction, cancellationToken);
        if (batch.Count > 0)
        {
            using (var publishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                publishing.CancelAfter(_options.PublishTimeout); // Past it the caller resets the publisher; the batch stays unsent.
                await publisher.PublishAsync(batch, publishing.Token);
            }

            // Without a retention for inspection, relayed rows go at once: no new row version and index entries to write, then vacuum.
            await using var markSent = new NpgsqlCommand(
                _options.SentRetention > TimeSpan.Zero
                    ? "UPDATE eventbus_outbox SET sent_at = now() WHERE sequence = ANY($1)"
                    : "DELETE FROM eventbus_outbox WHERE sequence = ANY($1)",
                connection, transaction);
            markSent.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = batch.Select(m => m.Sequence).ToArray() });
            await markSent.ExecuteNonQueryAsync(cancellationToken);
        }

        if (!_sinceBacklogCount.IsRunning || _sinceBacklogCount.Elapsed > BacklogCountInterval)
        {
            // Counted after marking this batch, within its transaction; the partial index keeps this cheap.
            await using var count = new NpgsqlCommand("SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL", connection, transaction);
            metrics.SetOutboxBacklog((long)(await count.ExecuteScalarAsync(cancellationToken))!);
            _sinceBacklogCount.Restart();
        }

        await transaction.CommitAsync(cancellationToken);
        metrics.Published.Add(batch.Count);
        return batch.Count;
    }

    /// <summary>When idle, now and then: deletes sent outbox rows and inbox rows past their retention.</summary>
    private async Task CleanUpAsync(CancellationToken cancellationToken)
    {
        if (_sinceCleanup.IsRunning && _sinceCleanup.Elapsed < CleanupInterval)
        {
            return;
        }

        _sinceCleanup.Restart();
        await using var connection = await dataSource.Value.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("DELETE FROM eventbus_outbox WHERE sent_at < now() - $1")
                {
                    Parameters = { new NpgsqlParameter<TimeSpan> { TypedValue = _options.SentRetention } },
                },
                new NpgsqlBatchCommand("DELETE FROM eventbus_inbox WHERE handled_at < now() - $1")
                {
                    Parameters = { new NpgsqlParameter<TimeSpan> { TypedValue = _options.InboxRetention } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<List<OutboxMessage>> ReadUnsentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand(
            "SELECT sequence, event_id, topic, envelope FROM eventbus_outbox WHERE sent_at IS NULL ORDER BY sequence LIMIT $1",
            connection, transaction);
        select.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _options.RelayBatchSize });
        var batch = new List<OutboxMessage>(_options.RelayBatchSize);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            batch.Add(new OutboxMessage(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<byte[]>(3)));
        }

        return batch;
    }

    [LoggerMessage(LogLevel.Warning, "The outbox relay failed; it reconnects and publishes the batch again.")]
    private partial void LogRelayFailed(Exception exception);

    [LoggerMessage(LogLevel.Warning, "The outbox relay stopped draining at shutdown; the rest is published at the next start.")]
    private partial void LogDrainStopped(Exception exception);
}
