using Transformation.Incentives.Api.IntegrationEvents.Handlers;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// The upgrade from the queued evaluation (an older version queued each observation in its inbox transaction and
/// evaluated the queue in background loops): evaluates what it left in <c>observation_queue</c>, in batches, through the
/// same <see cref="RewardPipeline"/> (each batch's removal commits with its outcomes), then drops the table. Once the
/// table is gone this does nothing. A batch that fails is left in place, logged, and tried again at the next start.
/// </summary>
public sealed partial class QueuedObservationsUpgrade(IncentivesDatabase database, RewardPipeline pipeline, RulesStore rules, BehaviourCache behaviours,
    ILogger<QueuedObservationsUpgrade> logger) : BackgroundService
{
    private const int BatchSize = 500;
    private const string Claim = """
        DELETE FROM observation_queue WHERE sequence IN (SELECT sequence FROM observation_queue ORDER BY sequence LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING observation, event_time
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var evaluated = 0;
        try
        {
            while (true)
            {
                await using var connection = await database.OpenAsync(stoppingToken);
                await using var transaction = await connection.BeginTransactionAsync(stoppingToken);
                await using (var exists = connection.Command(transaction, "SELECT to_regclass('observation_queue') IS NOT NULL"))
                {
                    if (!(bool)(await exists.ExecuteScalarAsync(stoppingToken))!)
                    {
                        return;
                    }
                }

                var claimed = new List<(BehaviourObserved Message, DateTimeOffset EventTime)>();
                await using (var claim = connection.Command(transaction, Claim, BatchSize))
                await using (var reader = await claim.ExecuteReaderAsync(stoppingToken))
                {
                    while (await reader.ReadAsync(stoppingToken))
                    {
                        claimed.Add((BehaviourObserved.Parser.ParseFrom(reader.GetFieldValue<byte[]>(0)), reader.GetFieldValue<DateTimeOffset>(1)));
                    }
                }

                var batch = new List<Evaluation>(claimed.Count);
                foreach (var (message, eventTime) in claimed)
                {
                    batch.Add(BehaviourObservedHandler.ToEvaluation(message, eventTime, await behaviours.FindAsync(message.BehaviourId, stoppingToken)));
                }

                if (batch.Count == 0)
                {
                    await using var drop = connection.Command(transaction, "DROP TABLE IF EXISTS observation_queue");
                    await drop.ExecuteNonQueryAsync(stoppingToken);
                    await transaction.CommitAsync(stoppingToken);
                    LogDropped(evaluated);
                    return;
                }

                await pipeline.EvaluateAsync(connection, transaction, batch, await rules.CurrentAsync(stoppingToken), stoppingToken);
                await transaction.CommitAsync(stoppingToken);
                evaluated += batch.Count;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the rest waits for the next start.
        }
        catch (Exception exception)
        {
            LogFailed(exception, evaluated);
        }
    }

    [LoggerMessage(LogLevel.Information, "Evaluated the {Count} observations an older version left queued; observation_queue is dropped.")]
    private partial void LogDropped(int count);

    [LoggerMessage(LogLevel.Error, "Evaluating the observations an older version left in observation_queue failed after {Count}; the rest is tried at the next start.")]
    private partial void LogFailed(Exception exception, int count);
}
