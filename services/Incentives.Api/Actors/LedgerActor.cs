using System.Collections.Immutable;
using Npgsql;
using Transformation.Actors;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.Model;

namespace Transformation.Incentives.Api.Actors;

/// <summary>
/// One employee's ledger (Orleans-style grain keyed by employee id): every rule that depends on that employee's totals
/// (cap per period, cooldown per giver, badges, the peer allowance they give from) is decided in its turns, one at a time,
/// so concurrent observations for one employee can never pass a cap.
/// </summary>
public interface ILedgerActor : IActor
{
    Task<Decision> EvaluateAsync(Observation observation, RuleSet rules, ImmutableArray<string> flags);

    Task<Decision> SettleAsync(string observationId, bool budgetReserved, RuleSet rules);

    Task<Decision> ApproveAsync(string observationId, string period, int points, RuleSet rules);

    Task<Decision> RejectAsync(string observationId, string period, int points, int rulesVersion);

    Task<AllowanceResult> SpendAllowanceAsync(string recognitionId, string period, int points, int allowance);

    [ReadOnly]
    Task<LedgerState> GetStateAsync();
}

/// <summary>
/// The ledger's state is folded, on activation, from the committed outcomes (the durable record, written in the same
/// transaction as the inbox row), then kept in memory: a decision reserves its points at once, so a later turn sees
/// them; a retried observation gets its first decision back. It writes no state row of its own: the outcome rows are
/// its journal (an Orleans JournaledGrain whose log is the outcomes table), which keeps one commit per event batch.
/// </summary>
public sealed class LedgerActor(IncentivesDatabase database) : ActorBase, ILedgerActor
{
    private LedgerState _state = new();

    public Task<Decision> EvaluateAsync(Observation observation, RuleSet rules, ImmutableArray<string> flags) =>
        Apply(_state.Evaluate(observation, rules, flags));

    public Task<Decision> SettleAsync(string observationId, bool budgetReserved, RuleSet rules) =>
        Apply(_state.Settle(observationId, budgetReserved, rules));

    public Task<Decision> ApproveAsync(string observationId, string period, int points, RuleSet rules) =>
        Apply(_state.Approve(observationId, period, points, rules));

    public Task<Decision> RejectAsync(string observationId, string period, int points, int rulesVersion) =>
        Apply(_state.Reject(observationId, period, points, rulesVersion));

    public Task<AllowanceResult> SpendAllowanceAsync(string recognitionId, string period, int points, int allowance)
    {
        var (result, next) = _state.SpendAllowance(recognitionId, period, points, allowance);
        _state = next;
        return Task.FromResult(result);
    }

    public Task<LedgerState> GetStateAsync() => Task.FromResult(_state);

    protected override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var sql in new[]
        {
            "SELECT period, sum(points)::int FROM outcomes WHERE employee_id = $1 AND status IN (0, 1, 2) GROUP BY period",
            "SELECT giver_id, max(observed_at) FROM outcomes WHERE employee_id = $1 AND giver_id <> '' AND status IN (0, 1, 2) GROUP BY giver_id",
            "SELECT coalesce(sum(points), 0)::int FROM outcomes WHERE employee_id = $1 AND status = 0",
            "SELECT badge_id FROM badges_earned WHERE employee_id = $1",
            "SELECT period, sum(points)::int FROM recognitions WHERE giver_id = $1 GROUP BY period",
        })
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Id });
            batch.BatchCommands.Add(command);
        }

        var received = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        var last = ImmutableDictionary.CreateBuilder<string, DateTimeOffset>(StringComparer.Ordinal);
        var badges = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        var given = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        var lifetime = 0;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                received[reader.GetString(0)] = reader.GetInt32(1);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                last[reader.GetString(0)] = reader.GetFieldValue<DateTimeOffset>(1);
            }

            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                lifetime = reader.GetInt32(0);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                badges.Add(reader.GetString(0));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                given[reader.GetString(0)] = reader.GetInt32(1);
            }
        }

        _state = new LedgerState
        {
            ReceivedByPeriod = received.ToImmutable(),
            LastRewardFrom = last.ToImmutable(),
            LifetimeGranted = lifetime,
            Badges = badges.ToImmutable(),
            GivenByPeriod = given.ToImmutable(),
        };
    }

    private Task<Decision> Apply((Decision Decision, LedgerState Next) result)
    {
        _state = result.Next;
        return Task.FromResult(result.Decision);
    }
}
