using Npgsql;

namespace Transformation.Directory.Api.Infrastructure;

/// <summary>
/// The directory's tables, created idempotently at start-up. Current rows (org_units, employees) plus their history
/// (one row per version with valid_from/valid_to, so that moves and departures keep their history and reads "as of"
/// a date are possible).
/// </summary>
public static class DirectorySchema
{
    private const long MigrationLock = 0x44_69_72_65_63_74_6F_72; // "Director"

    private const string Sql = """
        CREATE TABLE IF NOT EXISTS org_units (
            id              text PRIMARY KEY,
            name            text        NOT NULL,
            parent_id       text        NOT NULL,
            kind            integer     NOT NULL,
            closed          boolean     NOT NULL,
            version         bigint      NOT NULL,
            effective_from  timestamptz NOT NULL
        );
        CREATE TABLE IF NOT EXISTS org_unit_versions (
            id          text        NOT NULL,
            version     bigint      NOT NULL,
            name        text        NOT NULL,
            parent_id   text        NOT NULL,
            kind        integer     NOT NULL,
            closed      boolean     NOT NULL,
            valid_from  timestamptz NOT NULL,
            valid_to    timestamptz,
            PRIMARY KEY (id, version)
        );
        CREATE TABLE IF NOT EXISTS employees (
            id              text PRIMARY KEY,
            display_name    text        NOT NULL,
            email           text        NOT NULL,
            org_unit_id     text        NOT NULL,
            manager_id      text        NOT NULL,
            roles           text[]      NOT NULL,
            active          boolean     NOT NULL,
            erased          boolean     NOT NULL,
            version         bigint      NOT NULL,
            effective_from  timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS employees_org_unit ON employees (org_unit_id);
        -- People pickers (SearchEmployees): a trigram index finds "contains" matches without reading every row, and the
        -- name order pages through them. pg_trgm is a trusted extension: the database's owner may create it.
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS employees_search ON employees USING gin ((lower(display_name || ' ' || id || ' ' || email)) gin_trgm_ops) WHERE active;
        CREATE INDEX IF NOT EXISTS employees_by_name ON employees (lower(display_name), id) WHERE active;
        -- Trigrams need three characters: a two-character query matches the start of a name or id, through these.
        CREATE INDEX IF NOT EXISTS employees_name_prefix ON employees (lower(display_name) text_pattern_ops) WHERE active;
        CREATE INDEX IF NOT EXISTS employees_id_prefix ON employees (lower(id) text_pattern_ops) WHERE active;
        CREATE TABLE IF NOT EXISTS employee_versions (
            id              text        NOT NULL,
            version         bigint      NOT NULL,
            display_name    text        NOT NULL,
            email           text        NOT NULL,
            org_unit_id     text        NOT NULL,
            manager_id      text        NOT NULL,
            roles           text[]      NOT NULL,
            active          boolean     NOT NULL,
            valid_from      timestamptz NOT NULL,
            valid_to        timestamptz,
            PRIMARY KEY (id, version)
        );
        CREATE INDEX IF NOT EXISTS employee_versions_org_unit ON employee_versions (org_unit_id, valid_from);
        CREATE TABLE IF NOT EXISTS scim_identities (
            employee_id  text PRIMARY KEY,
            user_name    text NOT NULL,
            external_id  text NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS scim_identities_user_name ON scim_identities (lower(user_name));
        CREATE TABLE IF NOT EXISTS idempotent_requests (
            method       text        NOT NULL,
            key          text        NOT NULL,
            response     bytea       NOT NULL,
            subject_ids  text[]      NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (method, key)
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
