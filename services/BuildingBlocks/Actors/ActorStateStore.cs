using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Transformation.EventBus;

namespace Transformation.Actors;

/// <summary>An actor's stored state and its version (0: no record).</summary>
public readonly record struct StoredState<TState>(TState? State, int Version);

/// <summary>
/// More work for the transaction that writes an actor's state, such as an audit row: it commits or rolls back with the state and
/// its events.
/// </summary>
public delegate Task StateWriteStatement(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>Where actor state lives: PostgreSQL in services, memory for benchmarks and single-process tools.</summary>
public interface IActorStateStore
{
    Task<StoredState<TState>> ReadAsync<TState>(ActorKey key, CancellationToken cancellationToken);

    /// <summary>
    /// Writes if the stored version equals <paramref name="expectedVersion"/>, with the events and <paramref name="alongside"/> in the same
    /// transaction; returns the new version.
    /// </summary>
    Task<int> WriteAsync<TState>(ActorKey key, TState state, int expectedVersion, IReadOnlyCollection<OutgoingEvent> events, StateWriteStatement? alongside,
        CancellationToken cancellationToken);

    Task ClearAsync(ActorKey key, int expectedVersion, CancellationToken cancellationToken);
}

/// <summary>
/// State as <c>jsonb</c> in <c>actor_state</c>, with an integer <c>version</c> as ETag (as Orleans' ADO.NET
/// provider): a write is <c>UPDATE … WHERE version = @v</c>, and its events go to the outbox in the same transaction.
/// </summary>
public sealed class PostgresActorStateStore(NpgsqlDataSource dataSource, Outbox? outbox) : IActorStateStore
{
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS actor_state (
            actor_type  text        NOT NULL,
            actor_id    text        NOT NULL,
            state       jsonb       NOT NULL,
            version     integer     NOT NULL,
            modified_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (actor_type, actor_id));
        """;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<StoredState<TState>> ReadAsync<TState>(ActorKey key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT state, version FROM actor_state WHERE actor_type = $1 AND actor_id = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new StoredState<TState>(default, 0);
        }

        var state = JsonSerializer.Deserialize<TState>(reader.GetFieldValue<byte[]>(0), Json);
        return new StoredState<TState>(state, reader.GetInt32(1));
    }

    public async Task<int> WriteAsync<TState>(ActorKey key, TState state, int expectedVersion, IReadOnlyCollection<OutgoingEvent> events,
        StateWriteStatement? alongside, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = events.Count > 0 || alongside is not null ? await connection.BeginTransactionAsync(cancellationToken) : null;
        var sql = expectedVersion == 0
            ? "INSERT INTO actor_state (actor_type, actor_id, state, version) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING"
            : "UPDATE actor_state SET state = $3, version = version + 1, modified_at = now() WHERE actor_type = $1 AND actor_id = $2 AND version = $4";
        await using (var command = new NpgsqlCommand(sql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Type });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
            command.Parameters.Add(new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Jsonb, TypedValue = JsonSerializer.SerializeToUtf8Bytes(state, Json) });
            if (expectedVersion != 0)
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = expectedVersion });
            }

            if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                throw new InconsistentStateException(key.Type, key.Id, expectedVersion);
            }
        }

        if (transaction is not null)
        {
            if (events.Count > 0)
            {
                // The row lock taken by the write orders this actor's events in the outbox.
                var bus = outbox ?? throw new InvalidOperationException("Actors that publish events need the event bus (AddEventBus).");
                await bus.EnqueueAsync(connection, transaction, events, cancellationToken);
            }

            if (alongside is not null)
            {
                await alongside(connection, transaction, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        return expectedVersion + 1;
    }

    public async Task ClearAsync(ActorKey key, int expectedVersion, CancellationToken cancellationToken)
    {
        if (expectedVersion == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand("DELETE FROM actor_state WHERE actor_type = $1 AND actor_id = $2 AND version = $3");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Id });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = expectedVersion });
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            throw new InconsistentStateException(key.Type, key.Id, expectedVersion);
        }
    }
}

/// <summary>State in this process's memory, with the same version checks; events and statements alongside are not supported here.</summary>
public sealed class InMemoryActorStateStore : IActorStateStore
{
    private readonly ConcurrentDictionary<ActorKey, (object State, int Version)> _states = new();

    public Task<StoredState<TState>> ReadAsync<TState>(ActorKey key, CancellationToken cancellationToken) =>
        Task.FromResult(_states.TryGetValue(key, out var stored) ? new StoredState<TState>((TState)stored.State, stored.Version) : default);

    public Task<int> WriteAsync<TState>(ActorKey key, TState state, int expectedVersion, IReadOnlyCollection<OutgoingEvent> events,
        StateWriteStatement? alongside, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (events.Count > 0 || alongside is not null)
        {
            throw new NotSupportedException("The in-memory store has no database: use PostgreSQL for actors that publish events or write more rows.");
        }

        var written = expectedVersion == 0
            ? _states.TryAdd(key, (state, 1))
            : _states.TryGetValue(key, out var stored) && stored.Version == expectedVersion && _states.TryUpdate(key, (state, expectedVersion + 1), stored);
        return written ? Task.FromResult(expectedVersion + 1) : throw new InconsistentStateException(key.Type, key.Id, expectedVersion);
    }

    public Task ClearAsync(ActorKey key, int expectedVersion, CancellationToken cancellationToken)
    {
        if (expectedVersion != 0 && (!_states.TryGetValue(key, out var stored) || stored.Version != expectedVersion || !_states.TryRemove(new(key, stored))))
        {
            throw new InconsistentStateException(key.Type, key.Id, expectedVersion);
        }

        return Task.CompletedTask;
    }
}
