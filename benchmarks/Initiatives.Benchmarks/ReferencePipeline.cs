using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Benchmarks;

/// <summary>
/// Issue 27's floor: the observation → reward → progress flow with nothing but the servers and the promises the real path
/// keeps, so that the real path can be measured against it in the same sitting.
/// <list type="number">
/// <item>Observations are COPYed (binary) into the first database in batches, one transaction each, and published as
/// persistent messages with publisher confirms, the whole batch in flight at once.</item>
/// <item>A consumer takes what has arrived (up to a batch), COPYs one reward per observation into the second database (its
/// primary key is the observation id: a redelivery cannot reward twice), commits, publishes the rewards with confirms,
/// and only then acknowledges the observations.</item>
/// <item>A second consumer takes the rewards, records their ids (the inbox: primary key) and adds them to the initiative's
/// progress row in the first database in one transaction, then acknowledges.</item>
/// </list>
/// No validation, no rules, no outbox table (the publish follows the commit directly, which a crash between the two would
/// lose: the floor is cheaper than any design that keeps that promise), no gRPC: what the machine costs for the durable
/// writes and confirmed messages alone.
/// </summary>
public sealed class ReferencePipeline(string observationsDatabase, string rewardsDatabase, Uri amqp)
{
    private const string Observed = "reference-observed";
    private const string Rewarded = "reference-rewarded";

    public async Task CreateAsync()
    {
        await ExecuteAsync(observationsDatabase, """
            CREATE TABLE IF NOT EXISTS observations (observation_id uuid PRIMARY KEY, employee_id text NOT NULL, behaviour_id text NOT NULL,
                evidence text NOT NULL, observed_at timestamptz NOT NULL);
            CREATE TABLE IF NOT EXISTS progress_inbox (reward_id uuid PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS progress (initiative_id text PRIMARY KEY, desired bigint NOT NULL);
            INSERT INTO progress VALUES ('reference', 0) ON CONFLICT DO NOTHING;
            """);
        await ExecuteAsync(rewardsDatabase, """
            CREATE TABLE IF NOT EXISTS rewards (observation_id uuid PRIMARY KEY, reward_id uuid NOT NULL, employee_id text NOT NULL, points integer NOT NULL,
                granted_at timestamptz NOT NULL);
            """);
    }

    /// <summary>Sends <paramref name="total"/> observations through, <paramref name="streams"/> batches of <paramref name="batchSize"/> at a time; returns when progress counts them all.</summary>
    public async Task<TimeSpan> RunAsync(int total, int employees, int batchSize, int streams, CancellationToken cancellationToken)
    {
        await using var connection = await new ConnectionFactory { Uri = amqp }.CreateConnectionAsync(cancellationToken);
        await using (var setup = await connection.CreateChannelAsync(cancellationToken: cancellationToken))
        {
            await setup.QueueDeclareAsync(Observed, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
            await setup.QueueDeclareAsync(Rewarded, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        }

        var before = await ReadProgressAsync(cancellationToken);
        await using var rewarding = await StageAsync(connection, Observed, batchSize, RewardAsync, cancellationToken);
        await using var progressing = await StageAsync(connection, Rewarded, batchSize, WriteProgressAsync, cancellationToken);

        var clock = Stopwatch.StartNew();
        var next = -1;
        var sending = Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            await using var publisher = await ConfirmingChannelAsync(connection, cancellationToken);
            int batch;
            while ((batch = Interlocked.Increment(ref next)) * batchSize < total)
            {
                var rows = Enumerable.Range(batch * batchSize, Math.Min(batchSize, total - (batch * batchSize)))
                    .Select(n => new Row(Guid.CreateVersion7(), $"emp-{n % employees}")).ToList();
                await CopyObservationsAsync(rows, cancellationToken);
                await PublishAsync(publisher, Observed, rows, cancellationToken);
            }
        }, cancellationToken)));

        while (await ReadProgressAsync(cancellationToken) - before < total)
        {
            if (sending.IsFaulted || rewarding.Failed is not null || progressing.Failed is not null)
            {
                await sending;
                throw rewarding.Failed ?? progressing.Failed!;
            }

            if (clock.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException("The reference pipeline did not finish in 10 minutes.");
            }

            await Task.Delay(20, cancellationToken);
        }

        var elapsed = clock.Elapsed;
        await sending;
        return elapsed;
    }

    private sealed record Row(Guid Id, string EmployeeId);

    private async Task CopyObservationsAsync(List<Row> rows, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(observationsDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY observations (observation_id, employee_id, behaviour_id, evidence, observed_at) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var row in rows)
            {
                await writer.StartRowAsync(cancellationToken);
                await writer.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
                await writer.WriteAsync(row.EmployeeId, NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync("helps-customers", NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync("CRM ticket closed with a customer thank-you", NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync(now, NpgsqlDbType.TimestampTz, cancellationToken);
            }

            await writer.CompleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    // The rewards of a batch of observations: COPYed (a redelivered observation finds its reward: the batch is inserted
    // through a staging copy with ON CONFLICT DO NOTHING), committed, published with confirms.
    private async Task RewardAsync(IChannel publisher, List<BasicDeliverEventArgs> batch, CancellationToken cancellationToken)
    {
        var rows = batch.Select(d => Decode(d.Body.Span)).ToList();
        await using (var connection = new NpgsqlConnection(rewardsDatabase))
        {
            await connection.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = new NpgsqlCommand("""
                INSERT INTO rewards SELECT o, gen_random_uuid(), e, 10, now() FROM unnest($1::uuid[], $2::text[]) AS t(o, e) ON CONFLICT DO NOTHING
                """, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Id).ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.EmployeeId).ToArray() });
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        await PublishAsync(publisher, Rewarded, rows, cancellationToken);
    }

    private async Task WriteProgressAsync(IChannel publisher, List<BasicDeliverEventArgs> batch, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(observationsDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("""
            WITH fresh AS (INSERT INTO progress_inbox SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING 1)
            UPDATE progress SET desired = desired + (SELECT count(*) FROM fresh) WHERE initiative_id = 'reference'
            """, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(d => Decode(d.Body.Span).Id).ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<long> ReadProgressAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(observationsDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT desired FROM progress WHERE initiative_id = 'reference'", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<IChannel> ConfirmingChannelAsync(IConnection connection, CancellationToken cancellationToken) =>
        await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: null), cancellationToken);

    // Every message of the batch in flight at once; returns when the broker has confirmed them all (persistent: written to disk).
    private static async Task PublishAsync(IChannel channel, string queue, List<Row> rows, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties { Persistent = true };
        await Task.WhenAll(rows.Select(row => channel.BasicPublishAsync("", queue, mandatory: false, properties, Encode(row), cancellationToken).AsTask()));
    }

    private static byte[] Encode(Row row)
    {
        var bytes = new byte[16 + System.Text.Encoding.UTF8.GetByteCount(row.EmployeeId)];
        row.Id.TryWriteBytes(bytes);
        System.Text.Encoding.UTF8.GetBytes(row.EmployeeId, bytes.AsSpan(16));
        return bytes;
    }

    private static Row Decode(ReadOnlySpan<byte> body) => new(new Guid(body[..16]), System.Text.Encoding.UTF8.GetString(body[16..]));

    /// <summary>
    /// A consumer that handles what has arrived in batches (at most <paramref name="batchSize"/>, and no waiting for a batch
    /// to fill: whatever is there when the last batch is done), acknowledging a batch once its handler returned.
    /// </summary>
    private static async Task<Stage> StageAsync(IConnection connection, string queue, int batchSize,
        Func<IChannel, List<BasicDeliverEventArgs>, CancellationToken, Task> handle, CancellationToken cancellationToken)
    {
        var consuming = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await consuming.BasicQosAsync(0, (ushort)Math.Min(ushort.MaxValue, batchSize * 2), false, cancellationToken);
        var publisher = await ConfirmingChannelAsync(connection, cancellationToken);
        var stage = new Stage(consuming, publisher);
        var consumer = new AsyncEventingBasicConsumer(consuming);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            // The body's memory belongs to the client only during this callback.
            stage.Arrived.Writer.TryWrite(new BasicDeliverEventArgs(delivery.ConsumerTag, delivery.DeliveryTag, delivery.Redelivered, delivery.Exchange,
                delivery.RoutingKey, delivery.BasicProperties, delivery.Body.ToArray(), delivery.CancellationToken));
            return Task.CompletedTask;
        };
        await consuming.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken);
        stage.Loop = Task.Run(async () =>
        {
            try
            {
                var reader = stage.Arrived.Reader;
                while (await reader.WaitToReadAsync(stage.Stopping.Token))
                {
                    var batch = new List<BasicDeliverEventArgs>(batchSize);
                    while (batch.Count < batchSize && reader.TryRead(out var delivery))
                    {
                        batch.Add(delivery);
                    }

                    await handle(publisher, batch, stage.Stopping.Token);
                    await consuming.BasicAckAsync(batch.Max(d => d.DeliveryTag), multiple: true, stage.Stopping.Token);
                }
            }
            catch (OperationCanceledException) when (stage.Stopping.IsCancellationRequested)
            {
                // Stopped.
            }
            catch (Exception exception)
            {
                stage.Failed = exception;
            }
        }, CancellationToken.None);
        return stage;
    }

    private sealed class Stage(IChannel consuming, IChannel publisher) : IAsyncDisposable
    {
        public System.Threading.Channels.Channel<BasicDeliverEventArgs> Arrived { get; } =
            System.Threading.Channels.Channel.CreateUnbounded<BasicDeliverEventArgs>(new() { SingleReader = true });

        public CancellationTokenSource Stopping { get; } = new();

        public Task Loop { get; set; } = Task.CompletedTask;

        public Exception? Failed { get; set; }

        public async ValueTask DisposeAsync()
        {
            await Stopping.CancelAsync();
            await Loop;
            await consuming.DisposeAsync();
            await publisher.DisposeAsync();
            Stopping.Dispose();
        }
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>One timed pass of the real services: the rate end to end, when each stage had everything, the load around it.</summary>
internal sealed record Throughput(ObservationInput[] Inputs, double Rate, TimeSpan DurableAt, TimeSpan RewardedAt, TimeSpan ProgressedAt, string LoadBefore,
    string LoadAfter);
