using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>The service's one PostgreSQL database (the event bus's and the actors': state and outbox commit together).</summary>
public sealed class InitiativesDatabase(IOptions<EventBusOptions> options) : IAsyncDisposable
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

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync();
        }
    }
}

/// <summary>Creates the service's tables idempotently at start-up (before the subscribers start).</summary>
public sealed class InitiativesSchema(InitiativesDatabase database) : Microsoft.Extensions.Hosting.IHostedService
{
    private const long MigrationLock = 0x49_6E_69_74_69_61_74_76; // "Initiatv"

    public const string Sql = """
        CREATE TABLE IF NOT EXISTS behaviours (
            behaviour_id text    PRIMARY KEY,
            version      integer NOT NULL,
            polarity     integer NOT NULL,
            retired      boolean NOT NULL,
            name         text    NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS employees (
            employee_id text    PRIMARY KEY,
            org_unit_id text    NOT NULL DEFAULT '',
            active      boolean NOT NULL,
            erased      boolean NOT NULL DEFAULT false,
            version     bigint  NOT NULL);
        CREATE INDEX IF NOT EXISTS employees_unit ON employees (org_unit_id) WHERE active;
        CREATE TABLE IF NOT EXISTS org_units (
            org_unit_id text    PRIMARY KEY,
            parent_id   text    NOT NULL DEFAULT '',
            closed      boolean NOT NULL DEFAULT false,
            version     bigint  NOT NULL);
        CREATE TABLE IF NOT EXISTS observations (
            seq               bigserial,
            observation_id    uuid        PRIMARY KEY,
            recorded_by       text        NOT NULL,
            idempotency_key   text        NOT NULL,
            request_hash      bytea       NOT NULL,
            employee_id       text        NOT NULL,
            behaviour_id      text        NOT NULL,
            behaviour_version integer     NOT NULL,
            polarity          integer     NOT NULL,
            source            integer     NOT NULL,
            observer_id       text        NOT NULL,
            observed_at       timestamptz NOT NULL,
            initiative_id     text        NOT NULL,
            evidence          text        NOT NULL,
            org_unit_id       text        NOT NULL,
            recorded_at       timestamptz NOT NULL DEFAULT now(),
            xid               xid8        NOT NULL DEFAULT pg_current_xact_id(),
            UNIQUE (recorded_by, idempotency_key));
        CREATE INDEX IF NOT EXISTS observations_xid ON observations (xid);
        CREATE INDEX IF NOT EXISTS observations_seq ON observations (seq);
        -- An initiative's observations, newest first (the portal's pages, exports by initiative, what a story may cite).
        CREATE INDEX IF NOT EXISTS observations_initiative ON observations (initiative_id, seq);
        CREATE TABLE IF NOT EXISTS rewards (
            reward_id      text        PRIMARY KEY,
            observation_id text        NOT NULL,
            employee_id    text        NOT NULL,
            behaviour_id   text        NOT NULL,
            points         integer     NOT NULL,
            initiative_id  text        NOT NULL,
            granted_at     timestamptz);
        -- A revoked reward is no evidence; a revocation that arrives before its grant leaves a row the grant does not revive.
        ALTER TABLE rewards ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
        CREATE INDEX IF NOT EXISTS rewards_observation ON rewards (observation_id);
        CREATE INDEX IF NOT EXISTS rewards_initiative ON rewards (initiative_id);
        -- Baselines' published assessments and their scores per dimension and unit (with descendants), as ScoresPublished sent them.
        CREATE TABLE IF NOT EXISTS published_assessments (
            assessment_id      text        PRIMARY KEY,
            title              text        NOT NULL,
            measured_at        timestamptz NOT NULL,
            published_at       timestamptz NOT NULL,
            minimum_group_size integer     NOT NULL);
        CREATE TABLE IF NOT EXISTS published_scores (
            assessment_id text             NOT NULL,
            dimension_id  text             NOT NULL,
            org_unit_id   text             NOT NULL,
            suppressed    boolean          NOT NULL,
            n             bigint           NOT NULL,
            mean          double precision NOT NULL,
            PRIMARY KEY (assessment_id, dimension_id, org_unit_id));
        CREATE INDEX IF NOT EXISTS published_scores_group ON published_scores (org_unit_id, dimension_id);
        CREATE TABLE IF NOT EXISTS success_stories (
            story_id        uuid        PRIMARY KEY,
            initiative_id   text        NOT NULL,
            author_id       text        NOT NULL,
            idempotency_key text        NOT NULL,
            title           text        NOT NULL,
            body            text        NOT NULL,
            status          integer     NOT NULL,
            observation_ids text[]      NOT NULL,
            evidence        jsonb       NOT NULL,
            approved_by     text        NOT NULL DEFAULT '',
            published_at    timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now(),
            UNIQUE (author_id, idempotency_key));
        CREATE INDEX IF NOT EXISTS success_stories_published ON success_stories (published_at DESC) WHERE status = 3;
        CREATE TABLE IF NOT EXISTS story_reactions (
            story_id    uuid NOT NULL,
            employee_id text NOT NULL,
            reaction    text NOT NULL,
            PRIMARY KEY (story_id, employee_id));
        """ + InitiativeStore.Schema + """
        -- Before the actors wrote audit rows in their state's transaction, a trigger on actor_state did.
        DROP TRIGGER IF EXISTS initiative_audit ON actor_state;
        DROP FUNCTION IF EXISTS initiative_audit();
        """ + AuditLog.Ddl;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var locking = connection.Command(transaction, "SELECT pg_advisory_xact_lock($1)", MigrationLock))
        {
            await locking.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var create = connection.Command(transaction, Sql))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
