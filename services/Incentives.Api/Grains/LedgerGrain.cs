using System.Collections.Immutable;
using Google.Protobuf;
using Grpc.Core;
using Orleans.Concurrency;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
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
    /// <summary>
    /// Decides observations of this employee in order (one turn for a whole batch); flags are per observation. With
    /// <paramref name="settleUnbudgeted"/> (the caller found no budget for any (unit, period) of the batch) a decision in the
    /// period of its observation is settled in the same turn, as a budget-less grant is: no second call for it.
    /// </summary>
    Task<ImmutableArray<Decision>> EvaluateAllAsync(ImmutableArray<Observation> observations, RuleSet rules, ImmutableArray<ImmutableArray<string>> flags,
        bool settleUnbudgeted);

    /// <summary>Completes evaluated observations once their budget charges are known, in order.</summary>
    Task<ImmutableArray<Decision>> SettleAllAsync(ImmutableArray<string> observationIds, ImmutableArray<bool> budgetReserved, RuleSet rules);

    Task<Decision> ApproveAsync(string observationId, string period, int points, RuleSet rules);

    Task<Decision> RejectAsync(string observationId, string period, int points, int rulesVersion);

    Task<Decision> RevokeAsync(string observationId, string period, int points, int rulesVersion, ImmutableArray<string> withdrawnBadges);

    /// <summary>
    /// The employee spends points on a catalogue reward: decided and committed in this turn (<see cref="Redemptions.RedeemAsync"/>),
    /// so this employee's redemptions are checked against the balance one at a time and none can spend what another spent.
    /// </summary>
    Task<RedemptionOutcome> RedeemAsync(RedeemCommand command);

    /// <summary>A held redemption of this employee approved or rejected (refunded), in this employee's turn order as every debit.</summary>
    Task<RedemptionOutcome> ReviewRedemptionAsync(ReviewRedemptionCommand command);

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
public sealed class LedgerGrain(IncentivesDatabase database, LedgerActivations activations, Redemptions redemptions) : Grain, ILedgerGrain
{
    private LedgerState _state = new();

    private string Id => this.GetPrimaryKeyString();

    public Task<ImmutableArray<Decision>> EvaluateAllAsync(ImmutableArray<Observation> observations, RuleSet rules, ImmutableArray<ImmutableArray<string>> flags,
        bool settleUnbudgeted)
    {
        var decisions = ImmutableArray.CreateBuilder<Decision>(observations.Length);
        for (var i = 0; i < observations.Length; i++)
        {
            (var decision, _state) = _state.Evaluate(observations[i], rules, flags[i]);
            if (settleUnbudgeted && decision.HoldsPoints && string.Equals(decision.Period, rules.PeriodOf(observations[i].ObservedAt), StringComparison.Ordinal))
            {
                (decision, _state) = _state.Settle(decision.ObservationId, budgetReserved: true, rules);
            }

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

    public Task<RedemptionOutcome> RedeemAsync(RedeemCommand command) =>
        RedemptionOutcome.OfAsync(() => redemptions.RedeemAsync(Id, command.Request, CancellationToken.None));

    public Task<RedemptionOutcome> ReviewRedemptionAsync(ReviewRedemptionCommand command) =>
        RedemptionOutcome.OfAsync(() => redemptions.ReviewAsync(Id, command.ReviewerId, command.ReviewerIsHr, command.Request, CancellationToken.None));

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

/// <summary>A redemption for the grain's employee (the request as received: its idempotency key and hash go with it).</summary>
[GenerateSerializer]
[Immutable]
public sealed record RedeemCommand([property: Id(0)] byte[] RequestBytes)
{
    public RedeemPointsRequest Request => RedeemPointsRequest.Parser.ParseFrom(RequestBytes);

    public static RedeemCommand Of(RedeemPointsRequest request) => new(request.ToByteArray());
}

/// <summary>A review of a held redemption of the grain's employee.</summary>
[GenerateSerializer]
[Immutable]
public sealed record ReviewRedemptionCommand([property: Id(0)] byte[] RequestBytes, [property: Id(1)] string ReviewerId, [property: Id(2)] bool ReviewerIsHr)
{
    public ReviewRedemptionRequest Request => ReviewRedemptionRequest.Parser.ParseFrom(RequestBytes);

    public static ReviewRedemptionCommand Of(ReviewRedemptionRequest request, string reviewerId, bool reviewerIsHr) =>
        new(request.ToByteArray(), reviewerId, reviewerIsHr);
}

/// <summary>
/// What a redemption turn answered: the response message's bytes, or the gRPC refusal (code, message and field violations)
/// that the service raises again; an RpcException itself does not cross grain calls.
/// </summary>
[GenerateSerializer]
[Immutable]
public sealed record RedemptionOutcome(
    [property: Id(0)] byte[] Response,
    [property: Id(1)] int Code,
    [property: Id(2)] string Message,
    [property: Id(3)] ImmutableArray<string> Fields,
    [property: Id(4)] ImmutableArray<string> Descriptions)
{
    public static async Task<RedemptionOutcome> OfAsync<T>(Func<Task<T>> work)
        where T : IMessage
    {
        try
        {
            return new((await work()).ToByteArray(), (int)StatusCode.OK, "", [], []);
        }
        catch (RpcException e)
        {
            var violations = e.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations ?? [];
            return new([], (int)e.StatusCode, e.Status.Detail, [.. violations.Select(v => v.Field)], [.. violations.Select(v => v.Description)]);
        }
    }

    /// <summary>The response, or the refusal thrown again.</summary>
    public T Unwrap<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        if (Code == (int)StatusCode.OK)
        {
            return parser.ParseFrom(Response);
        }

        throw Fields.IsEmpty
            ? new RpcException(new Status((StatusCode)Code, Message))
            : RpcErrors.InvalidArgument(Message, Fields.Zip(Descriptions));
    }
}
