using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;
using Transformation.Mail;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>The service's one PostgreSQL database (the event bus's: state and outbox commit together).</summary>
public sealed class BaselinesDatabase(IOptions<EventBusOptions> options) : IAsyncDisposable
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
public sealed class BaselinesSchema(BaselinesDatabase database) : IHostedService
{
    private const long MigrationLock = 0x42_61_73_65_6C_69_6E_65; // "Baseline"

    // Comments are kept apart from responses: the four attributes and the text, no token, no key shared with a response.
    // Responses hold no identity: the token is stored only as a SHA-256 hash (per assessment), with four coarse attributes.
    // Surveys answered in the product: see SurveyStore for how the "has answered" marks, drafts and answers are kept apart, and
    // SurveyMailStore for their mail (the employees' names and addresses serve only that). A pulse recurrence (its definition, the
    // SurveyRecurrence message) opens each occurrence once: survey_occurrences' key (recurrence, occurrence) is written with the opening.
    // The audit trail (AuditLog.Ddl) is append-only: the database refuses UPDATE, DELETE and TRUNCATE on it.
    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS org_units (org_unit_id text PRIMARY KEY, parent_id text NOT NULL DEFAULT '', name text NOT NULL DEFAULT '',
            closed boolean NOT NULL DEFAULT false, version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS dimension_versions (dimension_id text NOT NULL, version bigint NOT NULL, name text NOT NULL, description text NOT NULL,
            facet int NOT NULL, scope int NOT NULL, changed_by text NOT NULL, changed_at timestamptz NOT NULL, PRIMARY KEY (dimension_id, version));
        CREATE TABLE IF NOT EXISTS items (item_id text PRIMARY KEY, dimension_id text NOT NULL, text text NOT NULL, reverse_scored boolean NOT NULL);
        CREATE TABLE IF NOT EXISTS assessments (assessment_id text PRIMARY KEY, title text NOT NULL, kind int NOT NULL, opens_at timestamptz NOT NULL,
            closes_at timestamptz NOT NULL, population text[] NOT NULL, status int NOT NULL, published boolean NOT NULL DEFAULT false,
            respondents bigint NOT NULL DEFAULT 0, closed_at timestamptz);
        CREATE TABLE IF NOT EXISTS assessment_items (assessment_id text NOT NULL, position int NOT NULL, item_id text NOT NULL, dimension_id text NOT NULL,
            reverse_scored boolean NOT NULL, PRIMARY KEY (assessment_id, position));
        CREATE TABLE IF NOT EXISTS responses (assessment_id text NOT NULL, token_hash bytea NOT NULL, org_unit_id text NOT NULL, tenure_band text NOT NULL,
            role_level text NOT NULL, location text NOT NULL, answers smallint[] NOT NULL, PRIMARY KEY (assessment_id, token_hash));
        CREATE TABLE IF NOT EXISTS cells (assessment_id text NOT NULL, dimension_id text NOT NULL, org_unit_id text NOT NULL, tenure_band text NOT NULL,
            role_level text NOT NULL, location text NOT NULL, n bigint NOT NULL, sum float8 NOT NULL, sum_squares float8 NOT NULL,
            d1 bigint NOT NULL, d2 bigint NOT NULL, d3 bigint NOT NULL, d4 bigint NOT NULL, d5 bigint NOT NULL,
            PRIMARY KEY (assessment_id, dimension_id, org_unit_id, tenure_band, role_level, location));
        CREATE TABLE IF NOT EXISTS comments (assessment_id text NOT NULL, org_unit_id text NOT NULL, tenure_band text NOT NULL, role_level text NOT NULL,
            location text NOT NULL, text text NOT NULL);
        CREATE INDEX IF NOT EXISTS comments_by_assessment ON comments (assessment_id, org_unit_id);
        CREATE TABLE IF NOT EXISTS baselines (scope_org_unit_id text NOT NULL, assessment_id text NOT NULL, set_by text NOT NULL, set_at timestamptz NOT NULL,
            superseded_at timestamptz, PRIMARY KEY (scope_org_unit_id, set_at));
        ALTER TABLE assessments ADD COLUMN IF NOT EXISTS survey boolean NOT NULL DEFAULT false;
        ALTER TABLE assessments ADD COLUMN IF NOT EXISTS exclude_sub_units boolean NOT NULL DEFAULT false;
        CREATE TABLE IF NOT EXISTS employees (employee_id text PRIMARY KEY, org_unit_id text NOT NULL, active boolean NOT NULL, version bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS invitations (assessment_id text NOT NULL, employee_id text NOT NULL, org_unit_id text NOT NULL,
            answered boolean NOT NULL DEFAULT false, PRIMARY KEY (assessment_id, employee_id));
        CREATE TABLE IF NOT EXISTS survey_drafts (assessment_id text NOT NULL, employee_id text NOT NULL, answers bytea NOT NULL,
            PRIMARY KEY (assessment_id, employee_id));
        CREATE TABLE IF NOT EXISTS survey_answers (answer_id uuid PRIMARY KEY, assessment_id text NOT NULL, org_unit_id text NOT NULL,
            answers smallint[] NOT NULL, comment text NOT NULL);
        CREATE INDEX IF NOT EXISTS survey_answers_by_assessment ON survey_answers (assessment_id);
        ALTER TABLE survey_answers ADD COLUMN IF NOT EXISTS sealed bytea;
        ALTER TABLE survey_answers ALTER COLUMN answers DROP NOT NULL, ALTER COLUMN comment DROP NOT NULL;
        ALTER TABLE survey_drafts ADD COLUMN IF NOT EXISTS sealed boolean NOT NULL DEFAULT false;
        ALTER TABLE employees ADD COLUMN IF NOT EXISTS display_name text NOT NULL DEFAULT '';
        ALTER TABLE employees ADD COLUMN IF NOT EXISTS email text NOT NULL DEFAULT '';
        ALTER TABLE assessments ADD COLUMN IF NOT EXISTS reminder_every_days int NOT NULL DEFAULT 0;
        ALTER TABLE assessments ADD COLUMN IF NOT EXISTS reminder_days_before_close int NOT NULL DEFAULT 0;
        ALTER TABLE assessments ADD COLUMN IF NOT EXISTS reminded_at timestamptz;
        CREATE TABLE IF NOT EXISTS survey_mail_templates (kind int PRIMARY KEY, subject text NOT NULL, body text NOT NULL);
        CREATE TABLE IF NOT EXISTS survey_recurrences (recurrence_id text PRIMARY KEY, definition bytea NOT NULL, set_by text NOT NULL,
            stopped boolean NOT NULL DEFAULT false, first_occurrence int NOT NULL DEFAULT 0, next_occurrence int NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS survey_occurrences (recurrence_id text NOT NULL, occurrence int NOT NULL, assessment_id text NOT NULL,
            opened_at timestamptz NOT NULL, skipped text NOT NULL DEFAULT '', PRIMARY KEY (recurrence_id, occurrence));
        CREATE TABLE IF NOT EXISTS idempotency (scope text NOT NULL, key text NOT NULL, request_hash bytea NOT NULL, response bytea, PRIMARY KEY (scope, key));
        """ + MailOutbox.Ddl + AuditLog.Ddl;

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
