using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;
using Transformation.Mail;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>The service's one PostgreSQL database (the event bus's: a delivery row commits with its inbox row).</summary>
public sealed class NotificationsDatabase(IOptions<EventBusOptions> options) : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() => NpgsqlDataSource.Create(options.Value.Database));

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => _dataSource.Value.OpenConnectionAsync(cancellationToken);

    /// <summary>An unpooled connection for LISTEN (a pooled one is reset on return), with TCP keepalive to notice a dead server.</summary>
    public async Task<NpgsqlConnection> OpenListenerAsync(CancellationToken cancellationToken)
    {
        var settings = new NpgsqlConnectionStringBuilder(options.Value.Database) { Pooling = false };
        settings.KeepAlive = settings.KeepAlive == 0 ? 15 : settings.KeepAlive;
        var listener = new NpgsqlConnection(settings.ConnectionString);
        try
        {
            await listener.OpenAsync(cancellationToken);
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }

        return listener;
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync();
        }
    }
}

/// <summary>Creates the tables idempotently at start-up, before the subscribers start.</summary>
public sealed class NotificationsSchema(NotificationsDatabase database) : IHostedService
{
    private const long MigrationLock = 0x4E_6F_74_69_66_79; // "Notify"

    // The secret is kept as it was issued: signing needs it back (see WebhookStore).
    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS webhook_endpoints (endpoint_id uuid PRIMARY KEY, url text NOT NULL, event_types text[] NOT NULL, format int NOT NULL,
            description text NOT NULL, secret text NOT NULL, created_by text NOT NULL, created_at timestamptz NOT NULL);
        CREATE INDEX IF NOT EXISTS webhook_endpoints_event_types ON webhook_endpoints USING gin (event_types);
        CREATE TABLE IF NOT EXISTS webhook_deliveries (delivery_id uuid PRIMARY KEY, endpoint_id uuid NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
            event_id text NOT NULL, event_type text NOT NULL, body text NOT NULL, status int NOT NULL, attempts int NOT NULL DEFAULT 0, attempt_base int NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL, next_attempt_at timestamptz NOT NULL, UNIQUE (event_id, endpoint_id));
        CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 1;
        CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
        CREATE TABLE IF NOT EXISTS webhook_attempts (delivery_id uuid NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE, attempt int NOT NULL,
            at timestamptz NOT NULL, status_code int NOT NULL, error text NOT NULL, PRIMARY KEY (delivery_id, attempt));
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, "SELECT pg_advisory_xact_lock($1)", cancellationToken, MigrationLock);
        await connection.ExecuteAsync(transaction, Ddl + InboxStore.Ddl + MailOutbox.Ddl, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
