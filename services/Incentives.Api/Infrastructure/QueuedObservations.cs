using Google.Protobuf;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// Observations received but not evaluated yet. The BehaviourObserved subscriber only queues each one, in the
/// transaction that holds its inbox row; <see cref="ObservationEvaluator"/> then evaluates them many at a time, each
/// batch in one transaction that also removes them from the queue. So every observation is evaluated exactly once, and
/// a batch costs a handful of round trips instead of several per observation. (The event bus hands a subscriber one
/// event per call; with a handler that took a delivery batch, the evaluation could run in the inbox transaction and
/// this queue would go.)
/// </summary>
public static class QueuedObservations
{
    public sealed record Queued(long Sequence, BehaviourObserved Message, DateTimeOffset EventTime, int Attempts);

    private const string ClaimSql = """
        DELETE FROM observation_queue WHERE sequence IN (
            SELECT sequence FROM observation_queue WHERE ($2 = 0 OR sequence = $2) ORDER BY sequence LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING sequence, observation, event_time, attempts
        """;

    public static async Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BehaviourObserved message, DateTimeOffset eventTime,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "INSERT INTO observation_queue (observation, event_time) VALUES ($1, $2)",
            message.ToByteArray(), eventTime.ToUniversalTime());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Takes (deletes, in the caller's transaction) up to <paramref name="limit"/> of the oldest queued observations that no
    /// other transaction holds, or just the one numbered <paramref name="sequence"/>; a rollback puts them back.
    /// </summary>
    public static async Task<List<Queued>> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int limit, long sequence,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, ClaimSql, limit, sequence);
        var claimed = new List<Queued>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add(new Queued(reader.GetInt64(0), BehaviourObserved.Parser.ParseFrom(reader.GetFieldValue<byte[]>(1)),
                    reader.GetFieldValue<DateTimeOffset>(2), reader.GetInt32(3)));
            }
        }

        claimed.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return claimed;
    }

    /// <summary>The oldest queued sequence numbers (to evaluate one by one after a batch failed).</summary>
    public static async Task<List<long>> HeadAsync(NpgsqlConnection connection, int limit, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, "SELECT sequence FROM observation_queue ORDER BY sequence LIMIT $1", limit);
        var head = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            head.Add(reader.GetInt64(0));
        }

        return head;
    }

    /// <summary>Counts a failed attempt; at <paramref name="maxAttempts"/> moves the observation to observation_dead_letters. True when it was set aside.</summary>
    public static async Task<bool> FailedAsync(NpgsqlConnection connection, long sequence, int maxAttempts, string error, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.Command(transaction, """
            WITH counted AS (UPDATE observation_queue SET attempts = attempts + 1 WHERE sequence = $1 RETURNING *),
            moved AS (
                INSERT INTO observation_dead_letters (sequence, observation, event_time, attempts, error)
                SELECT sequence, observation, event_time, attempts, $3 FROM counted WHERE attempts >= $2 RETURNING sequence)
            DELETE FROM observation_queue WHERE sequence IN (SELECT sequence FROM moved) RETURNING sequence
            """, sequence, maxAttempts, error);
        var setAside = await command.ExecuteScalarAsync(cancellationToken) is not null;
        await transaction.CommitAsync(cancellationToken);
        return setAside;
    }

    /// <summary>
    /// What the rules evaluate: the catalogue decides the polarity when it knows the behaviour (unacceptable from either
    /// side is a call-out); the observation time falls back to the recording time, then to the event's time.
    /// </summary>
    public static Evaluation ToEvaluation(BehaviourObserved message, DateTimeOffset eventTime, BehaviourSnapshot? behaviour)
    {
        ArgumentNullException.ThrowIfNull(message);
        var polarity = behaviour?.Polarity == Polarity.Unacceptable || message.Polarity == Polarity.Unacceptable ? Polarity.Unacceptable : Polarity.Desired;
        var observedAt = (message.ObservedAt ?? message.RecordedAt)?.ToDateTimeOffset() ?? eventTime;
        return new Evaluation(new Observation(message.ObservationId, message.EmployeeId, message.BehaviourId, message.BehaviourVersion, polarity,
            message.Source, message.ObserverId, observedAt, message.OrgUnitId, message.InitiativeId, message.Evidence), behaviour?.Name ?? "");
    }
}

/// <summary>
/// Evaluates queued observations in batches (<see cref="QueuedObservations"/>): a few loops per instance, each taking the
/// oldest observations no other transaction holds (so instances share the queue), evaluating them through
/// <see cref="RewardPipeline"/> and committing the outcomes with the removal from the queue. When a batch fails, its
/// observations are retried one by one, so one bad observation holds back no other; an observation that keeps failing
/// is set aside in observation_dead_letters with the error (logged). A database outage is waited out without counting.
/// </summary>
public sealed partial class ObservationEvaluator(IncentivesDatabase database, RewardPipeline pipeline, RulesStore rules, BehaviourCache behaviours,
    IOptions<IncentivesOptions> options, ILogger<ObservationEvaluator> logger) : BackgroundService
{
    /// <summary>The longest wait between two looks at an empty queue.</summary>
    private static readonly TimeSpan MaxIdlePoll = TimeSpan.FromMilliseconds(250);

    private readonly IncentivesOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.EvaluationConcurrency).Select(_ => Task.Run(() => RunAsync(stoppingToken), CancellationToken.None)));

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        var idle = _options.EvaluationPollInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var evaluated = 0;
            try
            {
                evaluated = await EvaluateAsync(_options.EvaluationBatchSize, 0, stoppingToken);
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                failures++;
                if (exception is ConcurrentOutcomeException)
                {
                    // Another instance (or loop) decided one of these observations first: expected now and then.
                    LogBatchRaced(exception.Message);
                }
                else
                {
                    LogBatchFailed(exception);
                }

                try
                {
                    if (exception is not NpgsqlException { IsTransient: true })
                    {
                        await EvaluateOneByOneAsync(stoppingToken);
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 * Math.Pow(2, Math.Min(failures, 10)))), stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception again)
                {
                    LogBatchFailed(again);
                }
            }

            // A full batch: more are waiting. Less: look again after the poll interval, less and less often (up to
            // MaxIdlePoll) while the queue stays empty.
            var wait = evaluated > 0 ? _options.EvaluationPollInterval : idle;
            idle = evaluated > 0 ? _options.EvaluationPollInterval : Longer(idle);
            if (evaluated < _options.EvaluationBatchSize)
            {
                try
                {
                    await Task.Delay(wait, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private TimeSpan Longer(TimeSpan idle) =>
        TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, Math.Max(MaxIdlePoll.Ticks, _options.EvaluationPollInterval.Ticks)));

    /// <summary>Evaluates up to <paramref name="limit"/> queued observations (or only <paramref name="sequence"/>) in one transaction; returns how many.</summary>
    private async Task<int> EvaluateAsync(int limit, long sequence, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = await QueuedObservations.ClaimAsync(connection, transaction, limit, sequence, cancellationToken);
        if (claimed.Count == 0)
        {
            return 0;
        }

        var current = await rules.CurrentAsync(cancellationToken);
        var batch = new List<Evaluation>(claimed.Count);
        foreach (var queued in claimed)
        {
            var behaviour = await behaviours.FindAsync(queued.Message.BehaviourId, cancellationToken);
            batch.Add(QueuedObservations.ToEvaluation(queued.Message, queued.EventTime, behaviour));
        }

        await pipeline.EvaluateAsync(connection, transaction, batch, current, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return claimed.Count;
    }

    private async Task EvaluateOneByOneAsync(CancellationToken cancellationToken)
    {
        List<long> head;
        await using (var connection = await database.OpenAsync(cancellationToken))
        {
            head = await QueuedObservations.HeadAsync(connection, _options.EvaluationBatchSize, cancellationToken);
        }

        foreach (var sequence in head)
        {
            try
            {
                await EvaluateAsync(1, sequence, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (exception is NpgsqlException { IsTransient: true })
                {
                    throw;
                }

                await using var connection = await database.OpenAsync(cancellationToken);
                if (await QueuedObservations.FailedAsync(connection, sequence, _options.EvaluationMaxAttempts, exception.ToString(), cancellationToken))
                {
                    LogSetAside(exception, sequence, _options.EvaluationMaxAttempts);
                }
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Evaluating a batch of queued observations failed; retrying them one by one.")]
    private partial void LogBatchFailed(Exception exception);

    [LoggerMessage(LogLevel.Information, "A batch of queued observations raced another evaluation ({Reason}); retrying them one by one.")]
    private partial void LogBatchRaced(string reason);

    [LoggerMessage(LogLevel.Error, "The queued observation {Sequence} failed {Attempts} times; it is set aside in observation_dead_letters.")]
    private partial void LogSetAside(Exception exception, long sequence, int attempts);
}
