using System.Globalization;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Orleans.Storage;
using Transformation.EventBus;
using Transformation.Initiatives.Api.Model;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>More work for the transaction that writes an initiative's state (its audit row): it commits or rolls back with the state and events.</summary>
public delegate Task StateWriteStatement(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>
/// The initiative grains' state: one <c>jsonb</c> row per initiative in <c>actor_state</c> (the table the old actor host
/// wrote, so stored initiatives carry over), with an integer version as ETag. A write is <c>UPDATE … WHERE version = @v</c>
/// and commits with its outbox events and audit row; a write against a stale version throws Orleans'
/// <see cref="InconsistentStateException"/>, which deactivates the grain so that its next call reads the state again.
/// </summary>
public sealed class InitiativeStore(InitiativesDatabase database, Outbox outbox)
{
    private const string GrainType = "initiative";

    public const string Schema = """
        CREATE TABLE IF NOT EXISTS actor_state (
            actor_type  text        NOT NULL,
            actor_id    text        NOT NULL,
            state       jsonb       NOT NULL,
            version     integer     NOT NULL,
            modified_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (actor_type, actor_id));
        """;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The stored state and its version (a new state and 0 when the initiative has never been written).</summary>
    public async Task<(InitiativeState State, int Version)> ReadAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("SELECT state, version FROM actor_state WHERE actor_type = $1 AND actor_id = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = GrainType });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (JsonSerializer.Deserialize<InitiativeState>(reader.GetFieldValue<byte[]>(0), Json) ?? new(), reader.GetInt32(1))
            : (new InitiativeState(), 0);
    }

    /// <summary>Writes <paramref name="state"/> if the stored version is still <paramref name="expectedVersion"/>, with the events and <paramref name="alongside"/>; returns the new version.</summary>
    public async Task<int> WriteAsync(string id, InitiativeState state, int expectedVersion, IReadOnlyCollection<OutgoingEvent> events, StateWriteStatement? alongside,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var sql = expectedVersion == 0
            ? "INSERT INTO actor_state (actor_type, actor_id, state, version) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING"
            : "UPDATE actor_state SET state = $3, version = version + 1, modified_at = now() WHERE actor_type = $1 AND actor_id = $2 AND version = $4";
        await using (var command = new NpgsqlCommand(sql, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = GrainType });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
            command.Parameters.Add(new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Jsonb, TypedValue = JsonSerializer.SerializeToUtf8Bytes(state, Json) });
            if (expectedVersion != 0)
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = expectedVersion });
            }

            if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                throw new InconsistentStateException($"Initiative {id} is no longer at version {expectedVersion}: another writer changed it.",
                    storedEtag: null, currentEtag: expectedVersion.ToString(CultureInfo.InvariantCulture));
            }
        }

        if (events.Count > 0)
        {
            // The row lock taken by the write orders this initiative's events in the outbox.
            await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
        }

        if (alongside is not null)
        {
            await alongside(connection, transaction, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return expectedVersion + 1;
    }
}
