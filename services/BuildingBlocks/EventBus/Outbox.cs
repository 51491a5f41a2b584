using Google.Protobuf;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

/// <summary>An event to publish, about one aggregate (the CloudEvent subject; events of one aggregate are relayed in order).</summary>
public sealed record OutgoingEvent(string AggregateId, IMessage Message);

/// <summary>
/// Writes events into the outbox inside the caller's transaction, so that they commit (or roll back) with
/// the state change; <see cref="OutboxRelay"/> publishes them afterwards. For events of one aggregate to be
/// relayed in the order they were written, write them while holding that aggregate's row lock.
/// </summary>
public sealed class Outbox(IOptions<ServiceOptions> service, IOptions<EventBusOptions> options)
{
    private const string Insert = "INSERT INTO eventbus_outbox (event_id, aggregate_id, topic, envelope) VALUES ($1, $2, $3, $4)";
    private const string Copy = "COPY eventbus_outbox (event_id, aggregate_id, topic, envelope) FROM STDIN (FORMAT BINARY)";
    private const int CopyThreshold = 8;

    private readonly string _source = service.Value.Name;
    private readonly string _pubSubName = options.Value.PubSubName;

    public Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string aggregateId, IMessage message,
        CancellationToken cancellationToken = default) =>
        EnqueueAsync(connection, transaction, [new OutgoingEvent(aggregateId, message)], cancellationToken);

    /// <summary>Writes several events in one round trip (binary COPY from a handful on); returns their CloudEvent ids.</summary>
    public async Task<IReadOnlyList<Guid>> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IReadOnlyCollection<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(events);
        var rows = events.Select(outgoing =>
        {
            var id = Guid.CreateVersion7();
            var cloudEvent = CloudEvent.Create(outgoing.Message, _source, outgoing.AggregateId, _pubSubName, id);
            return (Id: id, outgoing.AggregateId, Topic: cloudEvent.Topic!, Envelope: cloudEvent.ToUtf8Json());
        }).ToList();

        if (rows.Count >= CopyThreshold)
        {
            // COPY joins the connection's open transaction, like the INSERTs below.
            await using var import = await connection.BeginBinaryImportAsync(Copy, cancellationToken);
            foreach (var row in rows)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
                await import.WriteAsync(row.AggregateId, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Topic, NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(row.Envelope, NpgsqlDbType.Bytea, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }
        else if (rows.Count > 0)
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var row in rows)
            {
                var command = new NpgsqlBatchCommand(Insert);
                command.Parameters.Add(new NpgsqlParameter<Guid> { NpgsqlDbType = NpgsqlDbType.Uuid, TypedValue = row.Id });
                command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = row.AggregateId });
                command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = row.Topic });
                command.Parameters.Add(new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = row.Envelope });
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        return rows.Select(row => row.Id).ToList();
    }
}
