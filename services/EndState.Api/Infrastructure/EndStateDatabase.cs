using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;

namespace Transformation.EndState.Api.Infrastructure;

/// <summary>The service's one PostgreSQL database (the event bus's: state and outbox commit together).</summary>
public sealed class EndStateDatabase(IOptions<EventBusOptions> options) : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() => NpgsqlDataSource.Create(options.Value.Database));

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => _dataSource.Value.OpenConnectionAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync();
        }
    }
}

/// <summary>Creates the tables idempotently at start-up, before the subscribers start.</summary>
public sealed class EndStateSchema(EndStateDatabase database) : IHostedService
{
    private const long MigrationLock = 0x45_6E_64_53_74_61_74_65; // "EndState"

    // Versions and the audit trail are append-only: the database refuses UPDATE and DELETE on them.
    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS versions (scope_org_unit_id text NOT NULL, version bigint NOT NULL, status int NOT NULL, document jsonb NOT NULL,
            changed_by text NOT NULL, changed_at timestamptz NOT NULL, PRIMARY KEY (scope_org_unit_id, version));
        CREATE TABLE IF NOT EXISTS audit (sequence bigserial PRIMARY KEY, scope_org_unit_id text NOT NULL, version bigint NOT NULL, change int NOT NULL,
            actor text NOT NULL, at timestamptz NOT NULL, before jsonb, after jsonb NOT NULL);
        CREATE TABLE IF NOT EXISTS assessments (assessment_id text PRIMARY KEY, closed_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS idempotency (scope text NOT NULL, key text NOT NULL, request_hash bytea NOT NULL, response bytea, PRIMARY KEY (scope, key));
        CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
        CREATE OR REPLACE TRIGGER versions_append_only BEFORE UPDATE OR DELETE ON versions FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION refuse_change();
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, "SELECT pg_advisory_xact_lock($1)", cancellationToken, MigrationLock);
        await connection.ExecuteAsync(transaction, Ddl, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
