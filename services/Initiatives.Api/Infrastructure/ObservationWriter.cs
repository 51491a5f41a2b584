using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using NpgsqlTypes;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>
/// Writes observations: one transaction per call (all or nothing), written in chunks so a long stream stays a few round
/// trips per chunk. Each chunk resolves its references against the local copies (validation), inserts the rows (the
/// unique (recorded_by, idempotency_key) makes a retry, or a concurrent duplicate, find the first row instead), and
/// enqueues <see cref="BehaviourObserved"/> for the rows it created, in the same transaction.
/// </summary>
public sealed class ObservationWriter(InitiativesDatabase database, Outbox outbox, ProgressPump pump, TimeProvider time)
{
    public const int ChunkSize = 500;

    public async Task<ObservationBatch> BeginAsync(Caller caller, CancellationToken cancellationToken)
    {
        var connection = await database.OpenAsync(cancellationToken);
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        return new ObservationBatch(connection, transaction, caller, outbox, pump, time);
    }
}

/// <summary>One call's open transaction. Dispose without <see cref="CommitAsync"/> rolls everything back.</summary>
public sealed class ObservationBatch(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller, Outbox outbox, ProgressPump pump,
    TimeProvider time) : IAsyncDisposable
{
    private const string Insert = """
        INSERT INTO observations (observation_id, recorded_by, idempotency_key, request_hash, employee_id, behaviour_id, behaviour_version, polarity, source,
            observer_id, observed_at, initiative_id, evidence, org_unit_id, recorded_at)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[], $10::text[],
            $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])
        ON CONFLICT (recorded_by, idempotency_key) DO NOTHING
        RETURNING idempotency_key
        """;

    public int Created { get; private set; }

    public int Duplicates { get; private set; }

    /// <summary>
    /// Validates and writes one chunk; returns the observation id of each input, in order. Violations name "{prefix(i)}field",
    /// reworded by <paramref name="reword"/> when the caller's request names its fields otherwise.
    /// </summary>
    public async Task<IReadOnlyList<string>> WriteAsync(IReadOnlyList<ObservationInput> inputs, Func<int, string> prefix, CancellationToken cancellationToken,
        Func<(string Field, string Description), (string Field, string Description)>? reword = null)
    {
        var references = await LocalCopies.ResolveAsync(connection, transaction, inputs.Select(i => i.BehaviourId),
            inputs.Select(i => i.EmployeeId).Concat(inputs.Select(i => i.ObserverId)), inputs.Select(i => i.InitiativeId), cancellationToken);
        var violations = new List<(string Field, string Description)>();
        for (var i = 0; i < inputs.Count; i++)
        {
            Observations.ValidateReferences(inputs[i], prefix(i), references, violations);
        }

        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The observation refers to unknown or inactive data; nothing was stored.",
                reword is null ? violations : violations.Select(reword).ToList());
        }

        // A key repeated within the chunk is a duplicate of its first input when the bodies match (it gets its id), and an
        // error when they differ, as for a key used in an earlier call (checked against the stored hash below).
        var now = time.GetUtcNow();
        var rows = new Dictionary<string, (Guid Id, ObservationInput Input, byte[] Hash)>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var hash = Hash(input);
            if (!rows.TryAdd(input.IdempotencyKey, (Guid.CreateVersion7(), input, hash)) && !rows[input.IdempotencyKey].Hash.AsSpan().SequenceEqual(hash))
            {
                throw KeyReused(input.IdempotencyKey);
            }
        }

        var list = rows.Values.ToList();
        var behaviour = (ObservationInput i) => references.Behaviours[i.BehaviourId];
        await using var command = connection.Command(transaction, Insert,
            Array(NpgsqlDbType.Uuid, list.Select(r => r.Id).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(_ => caller.Subject).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.IdempotencyKey).ToArray()),
            Array(NpgsqlDbType.Bytea, list.Select(r => r.Hash).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.EmployeeId).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.BehaviourId).ToArray()),
            Array(NpgsqlDbType.Integer, list.Select(r => behaviour(r.Input).Version).ToArray()),
            Array(NpgsqlDbType.Integer, list.Select(r => (int)behaviour(r.Input).Polarity).ToArray()),
            Array(NpgsqlDbType.Integer, list.Select(r => (int)r.Input.Source).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.ObserverId).ToArray()),
            Array(NpgsqlDbType.TimestampTz, list.Select(r => r.Input.ObservedAt.ToDateTimeOffset()).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.InitiativeId).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => r.Input.Evidence).ToArray()),
            Array(NpgsqlDbType.Text, list.Select(r => references.Employees[r.Input.EmployeeId].OrgUnitId).ToArray()),
            Array(NpgsqlDbType.TimestampTz, list.Select(_ => now).ToArray()));
        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(reader.GetString(0));
            }
        }

        // Keys used before (a retry, or a concurrent duplicate that committed first): answer with the first observation.
        var existing = list.Where(r => !inserted.Contains(r.Input.IdempotencyKey)).ToList();
        var ids = list.ToDictionary(r => r.Input.IdempotencyKey, r => r.Id.ToString(), StringComparer.Ordinal);
        if (existing.Count > 0)
        {
            await using var read = connection.Command(transaction,
                "SELECT idempotency_key, observation_id, request_hash FROM observations WHERE recorded_by = $1 AND idempotency_key = ANY($2)",
                caller.Subject, Sql.TextArray(existing.Select(r => r.Input.IdempotencyKey)));
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = reader.GetString(0);
                if (!reader.GetFieldValue<byte[]>(2).AsSpan().SequenceEqual(rows[key].Hash))
                {
                    throw KeyReused(key);
                }

                ids[key] = reader.GetGuid(1).ToString();
            }
        }

        var events = list.Where(r => inserted.Contains(r.Input.IdempotencyKey)).Select(r => new OutgoingEvent(r.Input.EmployeeId, new BehaviourObserved
        {
            ObservationId = r.Id.ToString(),
            EmployeeId = r.Input.EmployeeId,
            BehaviourId = r.Input.BehaviourId,
            BehaviourVersion = behaviour(r.Input).Version,
            Polarity = behaviour(r.Input).Polarity,
            Source = r.Input.Source,
            ObserverId = r.Input.ObserverId,
            ObservedAt = r.Input.ObservedAt,
            InitiativeId = r.Input.InitiativeId,
            Evidence = r.Input.Evidence,
            RecordedAt = Timestamp.FromDateTimeOffset(now),
            OrgUnitId = references.Employees[r.Input.EmployeeId].OrgUnitId,
        })).ToList();
        await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
        Created += events.Count;
        Duplicates += inputs.Count - events.Count;
        return inputs.Select(i => ids[i.IdempotencyKey]).ToList();
    }

    /// <summary>Commits: from here on the observations are durable and may be acknowledged.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await transaction.CommitAsync(cancellationToken);
        if (Created > 0)
        {
            pump.Signal();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }

    private static NpgsqlParameter Array<T>(NpgsqlDbType type, T[] values) => new() { NpgsqlDbType = NpgsqlDbType.Array | type, Value = values };

    private static RpcException KeyReused(string key) =>
        new(new Status(StatusCode.FailedPrecondition, $"The idempotency key '{key}' was used for a different observation; nothing was stored."));

    private static byte[] Hash(ObservationInput input)
    {
        var copy = input.Clone();
        copy.IdempotencyKey = "";
        return SHA256.HashData(copy.ToByteArray());
    }
}
