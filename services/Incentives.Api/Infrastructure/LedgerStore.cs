using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Npgsql;
using Transformation.Incentives.Api.Model;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>Folds employees' ledger states from the committed outcomes (the ledgers' journal), several employees in one round trip.</summary>
public static class LedgerStore
{
    private static readonly string[] Queries =
    [
        "SELECT employee_id, period, sum(points)::int FROM outcomes WHERE employee_id = ANY($1) AND status IN (0, 1, 2) GROUP BY employee_id, period",
        // A rejected (5) or revoked (6) reward keeps its giver's cooldown mark, as a running ledger does: the giver did give then.
        "SELECT employee_id, giver_id, max(observed_at) FROM outcomes WHERE employee_id = ANY($1) AND giver_id <> '' AND status IN (0, 1, 2, 5, 6) GROUP BY employee_id, giver_id",
        "SELECT employee_id, sum(points)::int FROM outcomes WHERE employee_id = ANY($1) AND status = 0 GROUP BY employee_id",
        "SELECT employee_id, badge_id FROM badges_earned WHERE employee_id = ANY($1)",
    ];

    /// <summary>The state of every employee in <paramref name="employeeIds"/> (an empty ledger for those without history).</summary>
    public static async Task<IReadOnlyDictionary<string, LedgerState>> FoldAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        IReadOnlyCollection<string> employeeIds, CancellationToken cancellationToken)
    {
        var folds = employeeIds.Distinct(StringComparer.Ordinal).ToDictionary(id => id, _ => new Fold(), StringComparer.Ordinal);
        if (folds.Count == 0)
        {
            return ImmutableDictionary<string, LedgerState>.Empty;
        }

        var ids = folds.Keys.ToArray();
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var sql in Queries)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            batch.BatchCommands.Add(command);
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                folds[reader.GetString(0)].Received[reader.GetString(1)] = reader.GetInt32(2);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                folds[reader.GetString(0)].Last[reader.GetString(1)] = reader.GetFieldValue<DateTimeOffset>(2);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                folds[reader.GetString(0)].Lifetime = reader.GetInt32(1);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                folds[reader.GetString(0)].Badges.Add(reader.GetString(1));
            }
        }

        return folds.ToDictionary(f => f.Key, f => f.Value.ToState(), StringComparer.Ordinal);
    }

    private sealed class Fold
    {
        public ImmutableDictionary<string, int>.Builder Received { get; } = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);

        public ImmutableDictionary<string, DateTimeOffset>.Builder Last { get; } = ImmutableDictionary.CreateBuilder<string, DateTimeOffset>(StringComparer.Ordinal);

        public ImmutableHashSet<string>.Builder Badges { get; } = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);

        public int Lifetime { get; set; }

        public LedgerState ToState() => new()
        {
            ReceivedByPeriod = Received.ToImmutable(),
            LastRewardFrom = Last.ToImmutable(),
            LifetimeGranted = Lifetime,
            Badges = Badges.ToImmutable(),
        };
    }
}

/// <summary>
/// Which employees' ledger grains are active in this process, and states folded ahead of activation: a batch about to
/// call many ledgers that are not active folds them all in one round trip instead of one activation query each.
/// A folded state is taken only by an activation that starts within <see cref="Freshness"/> of the fold. It cannot miss
/// an outcome committed after the fold: every outcome of this process is decided by the employee's ledger, which was
/// not active when the fold read, and an activation is collected only after minutes of idleness.
/// </summary>
public sealed class LedgerActivations
{
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (LedgerState State, long FoldedAt)> _folded = new(StringComparer.Ordinal);

    public bool IsActive(string employeeId) => _active.ContainsKey(employeeId);

    public void Activated(string employeeId) => _active[employeeId] = 0;

    public void Deactivated(string employeeId) => _active.TryRemove(employeeId, out _);

    public void Offer(IReadOnlyDictionary<string, LedgerState> states)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (id, state) in states)
        {
            _folded[id] = (state, now);
        }
    }

    /// <summary>A state folded for this activation, if one is fresh.</summary>
    public bool TryTake(string employeeId, out LedgerState state)
    {
        if (_folded.TryRemove(employeeId, out var folded) && Stopwatch.GetElapsedTime(folded.FoldedAt) < Freshness)
        {
            state = folded.State;
            return true;
        }

        state = null!;
        return false;
    }

    /// <summary>Forgets folds that no activation took (the ledger became active another way meanwhile).</summary>
    public void Discard(IEnumerable<string> employeeIds)
    {
        foreach (var id in employeeIds)
        {
            _folded.TryRemove(id, out _);
        }
    }
}
