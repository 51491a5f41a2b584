using Npgsql;

namespace Transformation.EventBus;

/// <summary>The outbox and inbox tables, created idempotently at start-up.</summary>
public static class EventBusSchema
{
    // Serializes concurrent start-ups: CREATE ... IF NOT EXISTS alone can still race on the catalogue.
    private const long MigrationLock = 0x45_76_65_6E_74_42_75_73; // "EventBus"

    private const string Sql = """
        CREATE TABLE IF NOT EXISTS eventbus_outbox (
            sequence      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id      uuid        NOT NULL UNIQUE,
            aggregate_id  text        NOT NULL,
            topic         text        NOT NULL,
            envelope      bytea       NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            sent_at       timestamptz
        );
        CREATE INDEX IF NOT EXISTS eventbus_outbox_unsent ON eventbus_outbox (sequence) WHERE sent_at IS NULL;
        CREATE TABLE IF NOT EXISTS eventbus_inbox (
            consumer    text        NOT NULL,
            event_id    text        NOT NULL,
            handled_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        );
        """;

    public static async Task EnsureCreatedAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({MigrationLock}); {Sql}", connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}
