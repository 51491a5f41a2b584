using System.Globalization;
using Npgsql;

namespace Transformation.Grains;

/// <summary>
/// Orleans' reminder table in the service's own PostgreSQL database (<c>grain_reminders</c>, created at start): one row per
/// (service, grain, reminder name), with the grain's uniform hash for the silos' range reads and a version as ETag. Registering
/// a reminder again overwrites it; an upsert or removal that names an ETag applies only to that version.
/// </summary>
public sealed class PostgresReminderTable(NpgsqlDataSource dataSource, string serviceId) : IReminderTable
{
    private const long SchemaLock = 0x47_72_61_69_6E_52_65_6D; // "GrainRem"

    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS grain_reminders (
            service_id   text        NOT NULL,
            grain_id     text        NOT NULL,
            name         text        NOT NULL,
            grain_hash   bigint      NOT NULL,
            start_at     timestamptz NOT NULL,
            period_ticks bigint      NOT NULL,
            version      bigint      NOT NULL,
            PRIMARY KEY (service_id, grain_id, name));
        CREATE INDEX IF NOT EXISTS grain_reminders_hash ON grain_reminders (service_id, grain_hash);
        """;

    private const string Columns = "grain_id, name, start_at, period_ticks, version";

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // Several silos (and the service's own schema) may start at once: CREATE … IF NOT EXISTS alone can race.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var locking = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            locking.Parameters.Add(new NpgsqlParameter<long> { TypedValue = SchemaLock });
            await locking.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var create = new NpgsqlCommand(Schema, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        ReadAsync($"SELECT {Columns} FROM grain_reminders WHERE service_id = $1 AND grain_id = $2", serviceId, grainId.ToString());

    /// <summary>The rows whose grain hash is in (begin, end]; when begin ≥ end the range wraps around the ring.</summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        ReadAsync(begin < end
            ? $"SELECT {Columns} FROM grain_reminders WHERE service_id = $1 AND grain_hash > $2 AND grain_hash <= $3"
            : $"SELECT {Columns} FROM grain_reminders WHERE service_id = $1 AND (grain_hash > $2 OR grain_hash <= $3)",
            serviceId, (long)begin, (long)end);

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
    {
        var rows = await ReadAsync($"SELECT {Columns} FROM grain_reminders WHERE service_id = $1 AND grain_id = $2 AND name = $3",
            serviceId, grainId.ToString(), reminderName);
        return rows.Reminders.Count == 0 ? null : rows.Reminders[0];
    }

    /// <summary>Inserts or replaces the reminder; with an ETag, only the row still at that version. Returns the new ETag, or null on a mismatch.</summary>
    public async Task<string?> UpsertRow(ReminderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var checkedVersion = entry.ETag is null ? (long?)null : ParseETag(entry.ETag);
        if (entry.ETag is not null && checkedVersion is null)
        {
            return null;
        }

        await using var command = dataSource.CreateCommand(checkedVersion is null
            ? """
              INSERT INTO grain_reminders (service_id, grain_id, name, grain_hash, start_at, period_ticks, version) VALUES ($1, $2, $3, $4, $5, $6, 1)
              ON CONFLICT (service_id, grain_id, name) DO UPDATE
              SET grain_hash = excluded.grain_hash, start_at = excluded.start_at, period_ticks = excluded.period_ticks, version = grain_reminders.version + 1
              RETURNING version
              """
            : """
              UPDATE grain_reminders SET grain_hash = $4, start_at = $5, period_ticks = $6, version = version + 1
              WHERE service_id = $1 AND grain_id = $2 AND name = $3 AND version = $7
              RETURNING version
              """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.GrainId.ToString() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.ReminderName });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.GrainId.GetUniformHashCode() });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = DateTime.SpecifyKind(entry.StartAt, DateTimeKind.Utc) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.Period.Ticks });
        if (checkedVersion is { } version)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
        }

        return await command.ExecuteScalarAsync() is long written ? ETag(written) : null;
    }

    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        if (ParseETag(eTag) is not { } version)
        {
            return false;
        }

        await using var command = dataSource.CreateCommand("DELETE FROM grain_reminders WHERE service_id = $1 AND grain_id = $2 AND name = $3 AND version = $4");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.ToString() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reminderName });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task TestOnlyClearTable()
    {
        await using var command = dataSource.CreateCommand("DELETE FROM grain_reminders WHERE service_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
        await command.ExecuteNonQueryAsync();
    }

    private async Task<ReminderTableData> ReadAsync(string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var entries = new List<ReminderEntry>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            entries.Add(new ReminderEntry
            {
                GrainId = GrainId.Parse(reader.GetString(0)),
                ReminderName = reader.GetString(1),
                StartAt = reader.GetFieldValue<DateTime>(2),
                Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                ETag = ETag(reader.GetInt64(4)),
            });
        }

        return new ReminderTableData(entries);
    }

    private static string ETag(long version) => version.ToString(CultureInfo.InvariantCulture);

    private static long? ParseETag(string eTag) =>
        long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : null;
}
