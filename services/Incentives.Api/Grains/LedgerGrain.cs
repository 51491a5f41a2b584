using System.Collections.Immutable;
using Orleans.Concurrency;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.Model;

namespace Transformation.Incentives.Api.Grains;

/// <summary>
/// One employee's ledger (a grain keyed by employee id): every rule that depends on that employee's totals
/// (cap per period, cooldown per giver, badges) is decided in its turns, one at a time,
/// so concurrent observations for one employee can never pass a cap.
/// </summary>
public interface ILedgerGrain : IGrainWithStringKey
{
    /// <summary>Decides observations of this employee in order (one turn for a whole batch); flags are per observation.</summary>
    Task<ImmutableArray<Decision>> EvaluateAllAsync(ImmutableArray<Observation> observations, RuleSet rules, ImmutableArray<ImmutableArray<string>> flags);

    /// <summary>Completes evaluated observations once their budget charges are known, in order.</summary>
    Task<ImmutableArray<Decision>> SettleAllAsync(ImmutableArray<string> observationIds, ImmutableArray<bool> budgetReserved, RuleSet rules);

    Task<Decision> ApproveAsync(string observationId, string period, int points, RuleSet rules);

    Task<Decision> RejectAsync(string observationId, string period, int points, int rulesVersion);

    Task<Decision> RevokeAsync(string observationId, string period, int points, int rulesVersion, ImmutableArray<string> withdrawnBadges);

    [ReadOnly]
    Task<LedgerState> GetStateAsync();

    /// <summary>
    /// Drops the state in memory once this call is done, for a caller whose transaction failed after the ledger decided:
    /// the next call activates the ledger again, folding what the database holds.
    /// </summary>
    Task DeactivateAsync();
}

/// <summary>
/// The ledger's state is folded, on activation, from the committed outcomes (the durable record, written in the same
/// transaction as the inbox row), then kept in memory: a decision reserves its points at once, so a later turn sees
/// them; a retried observation gets its first decision back. It writes no state row of its own: the outcome rows are
/// its journal (an Orleans JournaledGrain whose log is the outcomes table), which keeps one commit per event batch.
/// A batch that calls many inactive ledgers folds them together beforehand (<see cref="LedgerActivations"/>): the
/// activation takes that state when one is waiting, else folds its own.
/// </summary>
public sealed class LedgerGrain(IncentivesDatabase database, LedgerActivations activations) : Grain, ILedgerGrain
{
    private LedgerState _state = new();

    private string Id => this.GetPrimaryKeyString();

    public Task<ImmutableArray<Decision>> EvaluateAllAsync(ImmutableArray<Observation> observations, RuleSet rules, ImmutableArray<ImmutableArray<string>> flags)
    {
        var decisions = ImmutableArray.CreateBuilder<Decision>(observations.Length);
        for (var i = 0; i < observations.Length; i++)
        {
            (var decision, _state) = _state.Evaluate(observations[i], rules, flags[i]);
            decisions.Add(decision);
        }

        return Task.FromResult(decisions.MoveToImmutable());
    }

    public Task<ImmutableArray<Decision>> SettleAllAsync(ImmutableArray<string> observationIds, ImmutableArray<bool> budgetReserved, RuleSet rules)
    {
        var decisions = ImmutableArray.CreateBuilder<Decision>(observationIds.Length);
        for (var i = 0; i < observationIds.Length; i++)
        {
            (var decision, _state) = _state.Settle(observationIds[i], budgetReserved[i], rules);
            decisions.Add(decision);
        }

        return Task.FromResult(decisions.MoveToImmutable());
    }

    public Task<Decision> ApproveAsync(string observationId, string period, int points, RuleSet rules) =>
        Apply(_state.Approve(observationId, period, points, rules));

    public Task<Decision> RejectAsync(string observationId, string period, int points, int rulesVersion) =>
        Apply(_state.Reject(observationId, period, points, rulesVersion));

    public Task<Decision> RevokeAsync(string observationId, string period, int points, int rulesVersion, ImmutableArray<string> withdrawnBadges) =>
        Apply(_state.Revoke(observationId, period, points, rulesVersion, withdrawnBadges));

    public Task<LedgerState> GetStateAsync() => Task.FromResult(_state);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!activations.TryTake(Id, out var state))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            state = (await LedgerStore.FoldAsync(connection, null, [Id], cancellationToken))[Id];
        }

        _state = state;
        activations.Activated(Id);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        activations.Deactivated(Id);
        return Task.CompletedTask;
    }

    private Task<Decision> Apply((Decision Decision, LedgerState Next) result)
    {
        _state = result.Next;
        return Task.FromResult(result.Decision);
    }
}
