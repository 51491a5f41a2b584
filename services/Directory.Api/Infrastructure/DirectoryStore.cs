using Google.Protobuf;
using Npgsql;
using NpgsqlTypes;
using Transformation.Csv;
using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;
using Transformation.EventBus;

namespace Transformation.Directory.Api.Infrastructure;

/// <summary>
/// Writes to the directory. Every write runs in one transaction that holds the directory's lock (writes are
/// serialised: tree and manager rules are checked against the whole directory), records its response under the
/// idempotency key, and writes its events to the outbox, so state, response and events commit together.
/// </summary>
public sealed class DirectoryStore(NpgsqlDataSource dataSource, Outbox outbox, TimeProvider time)
{
    private const long DirectoryLock = 0x44_69_72_57_72_69_74_65; // "DirWrite"

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction; with an idempotency key, a retry returns the response
    /// recorded by the first call (and does nothing else).
    /// </summary>
    public async Task<TResponse> WriteAsync<TResponse>(string method, string? idempotencyKey, MessageParser<TResponse> parser,
        Func<DirectoryWrite, Task<TResponse>> work, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse> =>
        await RunAsync(method, idempotencyKey, bytes => parser.ParseFrom(bytes), work, cancellationToken);

    /// <summary>A write without an idempotency key (SCIM: its clients retry by reading first).</summary>
    public Task<TResult> WriteAsync<TResult>(Func<DirectoryWrite, Task<TResult>> work, CancellationToken cancellationToken) =>
        RunAsync(null, null, null, work, cancellationToken);

    private async Task<TResponse> RunAsync<TResponse>(string? method, string? idempotencyKey, Func<byte[], TResponse>? parser,
        Func<DirectoryWrite, Task<TResponse>> work, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({DirectoryLock})", connection, transaction))
        {
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        var key = string.IsNullOrEmpty(idempotencyKey) || method is null || parser is null ? null : idempotencyKey;
        if (key is not null)
        {
            await using var find = new NpgsqlCommand("SELECT response FROM idempotent_requests WHERE method = $1 AND key = $2", connection, transaction);
            find.Parameters.Add(Text(method!));
            find.Parameters.Add(Text(key));
            if (await find.ExecuteScalarAsync(cancellationToken) is byte[] recorded)
            {
                return parser!(recorded);
            }
        }

        var write = new DirectoryWrite(connection, transaction, outbox, Truncate(time.GetUtcNow()));
        var response = await work(write);
        if (key is not null)
        {
            await using var record = new NpgsqlCommand(
                "INSERT INTO idempotent_requests (method, key, response, subject_ids) VALUES ($1, $2, $3, $4)", connection, transaction);
            record.Parameters.Add(Text(method!));
            record.Parameters.Add(Text(key));
            record.Parameters.Add(new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = ((IMessage)response!).ToByteArray() });
            record.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = [.. write.Subjects] });
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return response;
    }

    internal static NpgsqlParameter<string> Text(string value) => new() { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = value };

    /// <summary>PostgreSQL keeps microseconds: snapshots carry the time exactly as stored.</summary>
    private static DateTimeOffset Truncate(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % 10), TimeSpan.Zero);
}

/// <summary>An open write transaction holding the directory's lock.</summary>
public sealed class DirectoryWrite(NpgsqlConnection connection, NpgsqlTransaction transaction, Outbox outbox, DateTimeOffset now)
{
    private const int BatchCommands = 900;
    private const int CopyThreshold = 100;

    public NpgsqlConnection Connection => connection;

    public NpgsqlTransaction Transaction => transaction;

    /// <summary>The effective time of every change in this write.</summary>
    public DateTimeOffset Now => now;

    /// <summary>The ids of the employees a recorded response mentions (erasure removes those responses).</summary>
    public HashSet<string> Subjects { get; } = new(StringComparer.Ordinal);

    public async Task<DirectoryState> LoadAsync(CancellationToken cancellationToken)
    {
        var units = new List<OrgUnit>();
        await using (var command = new NpgsqlCommand($"SELECT {DirectoryRows.UnitColumns} FROM org_units", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                units.Add(DirectoryRows.ReadUnit(reader));
            }
        }

        var employees = new List<Employee>();
        await using (var command = new NpgsqlCommand($"SELECT {DirectoryRows.EmployeeColumns} FROM employees", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                employees.Add(DirectoryRows.ReadEmployee(reader));
            }
        }

        return new DirectoryState(units, employees);
    }

    /// <summary>Stores the changes (current rows and history) and writes their events to the outbox.</summary>
    public async Task ApplyAsync(IReadOnlyList<Change> changes, CancellationToken cancellationToken)
    {
        var commands = new List<NpgsqlBatchCommand>();
        var events = new List<OutgoingEvent>();
        // Many first versions (an initial import) are copied in: nothing to update or close for them.
        var copy = changes.Count(c => c.Unit?.Version == 1 || c.Employee?.Version == 1) >= CopyThreshold;
        var newUnits = new List<OrgUnit>();
        var newEmployees = new List<Employee>();
        foreach (var change in changes)
        {
            if (change.Unit is { } unit)
            {
                if (copy && unit.Version == 1)
                {
                    newUnits.Add(unit);
                }
                else
                {
                    commands.AddRange(SaveUnit(unit));
                }

                events.Add(new OutgoingEvent(unit.Id, new OrgUnitChanged { OrgUnit = unit.ToSnapshot() }));
            }
            else if (change.Employee is { } employee)
            {
                Subjects.Add(employee.Id);
                if (copy && employee.Version == 1)
                {
                    newEmployees.Add(employee);
                }
                else
                {
                    commands.AddRange(SaveEmployee(employee));
                }

                var snapshot = employee.ToSnapshot();
                IMessage message = change.Kind switch
                {
                    ChangeKind.EmployeeJoined => new EmployeeJoined { Employee = snapshot },
                    ChangeKind.EmployeeLeft => new EmployeeLeft { Employee = snapshot },
                    ChangeKind.EmployeeMoved => new EmployeeMoved
                    {
                        Employee = snapshot,
                        PreviousOrgUnitId = change.PreviousEmployee?.OrgUnitId ?? "",
                        PreviousManagerId = change.PreviousEmployee?.ManagerId ?? "",
                    },
                    _ => new EmployeeUpdated { Employee = snapshot },
                };
                events.Add(new OutgoingEvent(employee.Id, message));
            }
        }

        await CopyAsync(newUnits, newEmployees, cancellationToken);
        await ExecuteAsync(commands, cancellationToken);
        if (events.Count > 0)
        {
            await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
        }
    }

    /// <summary>
    /// First versions of units and employees by binary COPY (it joins the open transaction: all or nothing still): the current
    /// row and its history row, with no previous version to close. A million people are four streams instead of three million statements.
    /// </summary>
    private async Task CopyAsync(List<OrgUnit> units, List<Employee> employees, CancellationToken cancellationToken)
    {
        if (units.Count > 0)
        {
            await CopyAsync("COPY org_units (id, name, parent_id, kind, closed, version, effective_from) FROM STDIN (FORMAT BINARY)", units, WriteUnit, cancellationToken);
            await CopyAsync("COPY org_unit_versions (id, name, parent_id, kind, closed, version, valid_from) FROM STDIN (FORMAT BINARY)", units, WriteUnit, cancellationToken);
        }

        if (employees.Count > 0)
        {
            await CopyAsync("""
                COPY employees (id, display_name, email, org_unit_id, manager_id, roles, active, version, effective_from, erased) FROM STDIN (FORMAT BINARY)
                """, employees, (import, e, ct) => WriteEmployee(import, e, erased: true, ct), cancellationToken);
            await CopyAsync("""
                COPY employee_versions (id, display_name, email, org_unit_id, manager_id, roles, active, version, valid_from) FROM STDIN (FORMAT BINARY)
                """, employees, (import, e, ct) => WriteEmployee(import, e, erased: false, ct), cancellationToken);
        }
    }

    private async Task CopyAsync<T>(string copy, List<T> rows, Func<NpgsqlBinaryImporter, T, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        await using var import = await connection.BeginBinaryImportAsync(copy, cancellationToken);
        foreach (var row in rows)
        {
            await import.StartRowAsync(cancellationToken);
            await write(import, row, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    private static async Task WriteUnit(NpgsqlBinaryImporter import, OrgUnit unit, CancellationToken cancellationToken)
    {
        await import.WriteAsync(unit.Id, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(unit.Name, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(unit.ParentId, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync((int)unit.Kind, NpgsqlDbType.Integer, cancellationToken);
        await import.WriteAsync(unit.Closed, NpgsqlDbType.Boolean, cancellationToken);
        await import.WriteAsync(unit.Version, NpgsqlDbType.Bigint, cancellationToken);
        await import.WriteAsync(unit.EffectiveFrom.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
    }

    /// <summary>The columns employees and employee_versions share, then (<paramref name="erased"/>) the current row's erased flag.</summary>
    private static async Task WriteEmployee(NpgsqlBinaryImporter import, Employee employee, bool erased, CancellationToken cancellationToken)
    {
        await import.WriteAsync(employee.Id, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.DisplayName, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.Email, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.OrgUnitId, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.ManagerId, NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.Roles.Select(DirectoryNames.Of).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
        await import.WriteAsync(employee.Active, NpgsqlDbType.Boolean, cancellationToken);
        await import.WriteAsync(employee.Version, NpgsqlDbType.Bigint, cancellationToken);
        await import.WriteAsync(employee.EffectiveFrom.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
        if (erased)
        {
            await import.WriteAsync(employee.Erased, NpgsqlDbType.Boolean, cancellationToken);
        }
    }

    public async Task ExecuteAsync(IEnumerable<NpgsqlBatchCommand> commands, CancellationToken cancellationToken)
    {
        foreach (var chunk in commands.Chunk(BatchCommands))
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var command in chunk)
            {
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public Task EnqueueAsync(OutgoingEvent outgoing, CancellationToken cancellationToken) =>
        outbox.EnqueueAsync(connection, transaction, [outgoing], cancellationToken);

    public Task EnqueueAsync(IReadOnlyList<OutgoingEvent> outgoing, CancellationToken cancellationToken) =>
        outbox.EnqueueAsync(connection, transaction, outgoing, cancellationToken);

    private static IEnumerable<NpgsqlBatchCommand> SaveUnit(OrgUnit unit)
    {
        yield return Command("""
            INSERT INTO org_units (id, name, parent_id, kind, closed, version, effective_from) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id, kind = excluded.kind,
                closed = excluded.closed, version = excluded.version, effective_from = excluded.effective_from
            """, unit.Id, unit.Name, unit.ParentId, (int)unit.Kind, unit.Closed, unit.Version, unit.EffectiveFrom);
        yield return Command("UPDATE org_unit_versions SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL", unit.Id, unit.EffectiveFrom);
        yield return Command("""
            INSERT INTO org_unit_versions (id, version, name, parent_id, kind, closed, valid_from) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, unit.Id, unit.Version, unit.Name, unit.ParentId, (int)unit.Kind, unit.Closed, unit.EffectiveFrom);
    }

    private static IEnumerable<NpgsqlBatchCommand> SaveEmployee(Employee employee)
    {
        var roles = employee.Roles.Select(DirectoryNames.Of).ToArray();
        yield return Command("""
            INSERT INTO employees (id, display_name, email, org_unit_id, manager_id, roles, active, erased, version, effective_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, org_unit_id = excluded.org_unit_id,
                manager_id = excluded.manager_id, roles = excluded.roles, active = excluded.active, erased = excluded.erased,
                version = excluded.version, effective_from = excluded.effective_from
            """, employee.Id, employee.DisplayName, employee.Email, employee.OrgUnitId, employee.ManagerId, roles, employee.Active,
            employee.Erased, employee.Version, employee.EffectiveFrom);
        yield return Command("UPDATE employee_versions SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL", employee.Id, employee.EffectiveFrom);
        yield return Command("""
            INSERT INTO employee_versions (id, version, display_name, email, org_unit_id, manager_id, roles, active, valid_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, employee.Id, employee.Version, employee.DisplayName, employee.Email, employee.OrgUnitId, employee.ManagerId, roles,
            employee.Active, employee.EffectiveFrom);
    }

    public static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value switch
            {
                string s => new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = s },
                string[] a => new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = a },
                DateTimeOffset t => new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = t.UtcDateTime },
                _ => new NpgsqlParameter { Value = value },
            });
        }

        return command;
    }
}

/// <summary>Erasure of a leaver's personal fields.</summary>
public static class Erasure
{
    /// <summary>
    /// Blanks the display name and email in the current row and every history row, removes the SCIM identity, recorded
    /// responses and sent outbox envelopes that name the person, and writes EmployeeErased. The id stays.
    /// </summary>
    public static async Task<Employee> EraseAsync(this DirectoryWrite write, Employee employee, CancellationToken cancellationToken)
    {
        var erased = employee with { DisplayName = "", Email = "", Erased = true, Version = employee.Version + 1, EffectiveFrom = write.Now };
        var roles = erased.Roles.Select(DirectoryNames.Of).ToArray();
        await write.ExecuteAsync(
        [
            DirectoryWrite.Command("""
                UPDATE employees SET display_name = '', email = '', erased = true, version = $2, effective_from = $3 WHERE id = $1
                """, erased.Id, erased.Version, erased.EffectiveFrom),
            DirectoryWrite.Command("UPDATE employee_versions SET display_name = '', email = '' WHERE id = $1", erased.Id),
            DirectoryWrite.Command("UPDATE employee_versions SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL", erased.Id, erased.EffectiveFrom),
            DirectoryWrite.Command("""
                INSERT INTO employee_versions (id, version, display_name, email, org_unit_id, manager_id, roles, active, valid_from)
                VALUES ($1, $2, '', '', $3, $4, $5, $6, $7)
                """, erased.Id, erased.Version, erased.OrgUnitId, erased.ManagerId, roles, erased.Active, erased.EffectiveFrom),
            DirectoryWrite.Command("DELETE FROM scim_identities WHERE employee_id = $1", erased.Id),
            DirectoryWrite.Command("DELETE FROM idempotent_requests WHERE $1 = ANY(subject_ids)", erased.Id),
            // Sent envelopes are kept a while for inspection; the erased person's must not be.
            DirectoryWrite.Command("DELETE FROM eventbus_outbox WHERE aggregate_id = $1 AND sent_at IS NOT NULL", erased.Id),
        ], cancellationToken);
        await write.EnqueueAsync(new OutgoingEvent(erased.Id, new EmployeeErased { EmployeeId = erased.Id, Version = erased.Version }), cancellationToken);
        return erased;
    }

    public static async Task<Employee?> LoadEmployeeAsync(this DirectoryWrite write, string id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {DirectoryRows.EmployeeColumns} FROM employees WHERE id = $1", write.Connection, write.Transaction);
        command.Parameters.Add(DirectoryStore.Text(id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? DirectoryRows.ReadEmployee(reader) : null;
    }
}
