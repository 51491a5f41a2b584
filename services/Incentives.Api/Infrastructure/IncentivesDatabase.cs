using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>The service's one PostgreSQL database (the event bus's: state and outbox commit together).</summary>
public sealed class IncentivesDatabase(IOptions<EventBusOptions> options) : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() =>
    {
        var connection = new NpgsqlConnectionStringBuilder(options.Value.Database);
        if (connection.MaxAutoPrepare == 0)
        {
            connection.MaxAutoPrepare = 64;
        }

        return NpgsqlDataSource.Create(connection.ConnectionString);
    });

    public NpgsqlDataSource DataSource => _dataSource.Value;

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => DataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>A connection of its own, outside the pool, for LISTEN (a pooled one would be reset on return); TCP keepalive finds a dead peer.</summary>
    public async Task<NpgsqlConnection> OpenListenerAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.Value.Database) { Pooling = false };
        if (builder.KeepAlive == 0)
        {
            builder.KeepAlive = 15;
        }

        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync();
        }
    }
}

/// <summary>Creates the service's tables idempotently at start-up (before the subscribers start).</summary>
public sealed class IncentivesSchema(IncentivesDatabase database) : Microsoft.Extensions.Hosting.IHostedService
{
    private const long MigrationLock = 0x49_6E_63_65_6E_74_69_76; // "Incentiv"

    public const string Sql = """
        CREATE TABLE IF NOT EXISTS behaviours (
            behaviour_id text        NOT NULL,
            version      integer     NOT NULL,
            polarity     integer     NOT NULL,
            retired      boolean     NOT NULL,
            snapshot     jsonb       NOT NULL,
            changed_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (behaviour_id, version));
        CREATE TABLE IF NOT EXISTS incentive_rules (
            version    integer     PRIMARY KEY,
            document   jsonb       NOT NULL,
            changed_by text        NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS budgets (
            org_unit_id text    NOT NULL,
            period      text    NOT NULL,
            amount      integer NOT NULL,
            spent       integer NOT NULL DEFAULT 0,
            PRIMARY KEY (org_unit_id, period),
            CHECK (spent >= 0));
        CREATE TABLE IF NOT EXISTS idempotency (
            scope        text  NOT NULL,
            key          text  NOT NULL,
            request_hash bytea NOT NULL,
            response     bytea,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, key));
        CREATE TABLE IF NOT EXISTS employees (
            employee_id text    PRIMARY KEY,
            org_unit_id text    NOT NULL DEFAULT '',
            manager_id  text    NOT NULL DEFAULT '',
            roles       integer[] NOT NULL DEFAULT '{}',
            active      boolean NOT NULL DEFAULT true,
            erased      boolean NOT NULL DEFAULT false,
            version     bigint  NOT NULL);
        CREATE INDEX IF NOT EXISTS employees_manager ON employees (manager_id);
        ALTER TABLE employees ADD COLUMN IF NOT EXISTS display_name text NOT NULL DEFAULT '';
        CREATE TABLE IF NOT EXISTS org_units (
            org_unit_id text    PRIMARY KEY,
            parent_id   text    NOT NULL DEFAULT '',
            name        text    NOT NULL DEFAULT '',
            closed      boolean NOT NULL DEFAULT false,
            version     bigint  NOT NULL);
        CREATE TABLE IF NOT EXISTS outcomes (
            observation_id    text        PRIMARY KEY,
            reward_id         text        NOT NULL UNIQUE,
            employee_id       text        NOT NULL,
            behaviour_id      text        NOT NULL,
            behaviour_version integer     NOT NULL,
            behaviour_name    text        NOT NULL DEFAULT '',
            source            integer     NOT NULL,
            giver_id          text        NOT NULL DEFAULT '',
            points            integer     NOT NULL,
            status            smallint    NOT NULL,
            decline_reason    smallint    NOT NULL DEFAULT 0,
            period            text        NOT NULL,
            org_unit_id       text        NOT NULL DEFAULT '',
            budget_unit_id    text        NOT NULL DEFAULT '',
            initiative_id     text        NOT NULL DEFAULT '',
            evidence          text        NOT NULL DEFAULT '',
            message           text        NOT NULL DEFAULT '',
            public            boolean     NOT NULL DEFAULT false,
            flags             text[]      NOT NULL DEFAULT '{}',
            rules_version     integer     NOT NULL,
            recognition_id    text        NOT NULL DEFAULT '',
            observed_at       timestamptz NOT NULL,
            occurred_at       timestamptz NOT NULL DEFAULT now(),
            reviewed_by       text        NOT NULL DEFAULT '',
            review_note       text        NOT NULL DEFAULT '');
        ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS revoked_by text NOT NULL DEFAULT '';
        ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS revoke_reason text NOT NULL DEFAULT '';
        ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
        CREATE INDEX IF NOT EXISTS outcomes_employee ON outcomes (employee_id, occurred_at DESC);
        CREATE INDEX IF NOT EXISTS outcomes_public ON outcomes (occurred_at DESC) WHERE public AND status = 0;
        CREATE INDEX IF NOT EXISTS outcomes_held ON outcomes (occurred_at) WHERE status IN (1, 2);
        CREATE INDEX IF NOT EXISTS outcomes_peer_giver ON outcomes (giver_id, employee_id, observed_at) WHERE source = 2;
        CREATE INDEX IF NOT EXISTS outcomes_call_outs ON outcomes (period) WHERE status = 4;
        CREATE INDEX IF NOT EXISTS outcomes_granted ON outcomes (period, employee_id) WHERE status = 0;
        CREATE TABLE IF NOT EXISTS badges_earned (
            employee_id text        NOT NULL,
            badge_id    text        NOT NULL,
            name        text        NOT NULL,
            threshold   integer     NOT NULL,
            reward_id   text        NOT NULL,
            awarded_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (employee_id, badge_id));
        -- The reward catalogue: the current version of each reward (its history is in the audit trail). stock NULL = unlimited.
        CREATE TABLE IF NOT EXISTS catalogue_rewards (
            catalogue_reward_id text        PRIMARY KEY,
            version             integer     NOT NULL,
            name                text        NOT NULL,
            description         text        NOT NULL,
            points_cost         integer     NOT NULL CHECK (points_cost > 0),
            stock               integer     CHECK (stock >= 0),
            requires_approval   boolean     NOT NULL,
            approval_threshold  integer     NOT NULL,
            eligible_unit_ids   text[]      NOT NULL,
            withdrawn           boolean     NOT NULL DEFAULT false,
            changed_by          text        NOT NULL,
            changed_at          timestamptz NOT NULL);
        -- Points spent on catalogue rewards: held (1) and fulfilled (2) redemptions are debited from the balance, rejected (3) ones refunded.
        CREATE TABLE IF NOT EXISTS redemptions (
            redemption_id       text        PRIMARY KEY,
            employee_id         text        NOT NULL,
            catalogue_reward_id text        NOT NULL,
            reward_name         text        NOT NULL,
            reward_version      integer     NOT NULL,
            quantity            integer     NOT NULL CHECK (quantity > 0),
            points              integer     NOT NULL CHECK (points > 0),
            status              smallint    NOT NULL,
            requested_at        timestamptz NOT NULL,
            reviewed_by         text        NOT NULL DEFAULT '',
            review_note         text        NOT NULL DEFAULT '',
            fulfilled_at        timestamptz);
        CREATE INDEX IF NOT EXISTS redemptions_employee ON redemptions (employee_id, requested_at DESC);
        CREATE INDEX IF NOT EXISTS redemptions_held ON redemptions (requested_at) WHERE status = 1;
        CREATE INDEX IF NOT EXISTS redemptions_fulfilled ON redemptions (fulfilled_at) WHERE status = 2;
        CREATE TABLE IF NOT EXISTS leaderboard_preferences (
            employee_id text        PRIMARY KEY,
            opted_out   boolean     NOT NULL,
            changed_at  timestamptz NOT NULL);
        -- The peer allowance is read from the recognitions' outcomes (granted and held points only); a separate table of
        -- recognitions charged it up front, whatever the recipients were granted.
        DROP TABLE IF EXISTS recognitions;
        -- Observations are evaluated in the inbox transaction now: an older version's observation_queue is evaluated and
        -- dropped by QueuedObservationsUpgrade; its set-aside observations are dropped here unless some are left to look at.
        DO $$ DECLARE kept boolean; BEGIN
            IF to_regclass('observation_dead_letters') IS NOT NULL THEN
                EXECUTE 'SELECT EXISTS (SELECT FROM observation_dead_letters)' INTO kept;
                IF NOT kept THEN
                    DROP TABLE observation_dead_letters;
                END IF;
            END IF;
        END $$;
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_xact_lock({MigrationLock}); {Sql}{AuditLog.Ddl}", connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
