using System.Collections.Immutable;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

[GenerateSerializer]
public enum Verdict
{
    Granted,
    PendingApproval,
    Flagged,
    Declined,
    CallOut,
    Rejected,
    Revoked,
}

/// <summary>An observed behaviour (or one recipient of a peer recognition) to evaluate against the rules.</summary>
[GenerateSerializer]
[Immutable]
public sealed record Observation(
    [property: Id(0)] string ObservationId,
    [property: Id(1)] string EmployeeId,
    [property: Id(2)] string BehaviourId,
    [property: Id(3)] int BehaviourVersion,
    [property: Id(4)] Polarity Polarity,
    [property: Id(5)] ObservationSource Source,
    [property: Id(6)] string GiverId,
    [property: Id(7)] DateTimeOffset ObservedAt,
    [property: Id(8)] string OrgUnitId,
    [property: Id(9)] string InitiativeId = "",
    [property: Id(10)] string Evidence = "",
    [property: Id(11)] string Message = "",
    [property: Id(12)] bool? Public = null);

/// <summary>The one outcome of an observation.</summary>
[GenerateSerializer]
[Immutable]
public sealed record Decision([property: Id(0)] string ObservationId, [property: Id(1)] Verdict Verdict, [property: Id(2)] int Points,
    [property: Id(3)] DeclineReason Reason, [property: Id(4)] string Period, [property: Id(5)] int RulesVersion,
    [property: Id(6)] ImmutableArray<string> Flags, [property: Id(7)] ImmutableArray<Badge> BadgesEarned, [property: Id(8)] bool Settled = false)
{
    /// <summary>Whether the decision holds points: against the cap now, and against a budget.</summary>
    public bool HoldsPoints => Points > 0 && Verdict is Verdict.Granted or Verdict.PendingApproval or Verdict.Flagged;
}

/// <summary>What an employee's ledger grain folds: received points per period (granted and reserved), cooldown marks per
/// giver, lifetime granted points and badges, and the recent decisions (for retries). The peer allowance an employee gives
/// from is not here: it is read from the committed outcomes (<see cref="Infrastructure.PeerAllowance"/>).</summary>
[GenerateSerializer]
[Immutable]
public sealed record LedgerState
{
    public const int RecentLimit = 1024;

    [Id(0)]
    public ImmutableDictionary<string, int> ReceivedByPeriod { get; init; } = ImmutableDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);

    [Id(1)]
    public ImmutableDictionary<string, DateTimeOffset> LastRewardFrom { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty.WithComparers(StringComparer.Ordinal);

    [Id(2)]
    public int LifetimeGranted { get; init; }

    [Id(3)]
    public ImmutableHashSet<string> Badges { get; init; } = ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);

    [Id(4)]
    public ImmutableDictionary<string, Decision> Recent { get; init; } = ImmutableDictionary<string, Decision>.Empty.WithComparers(StringComparer.Ordinal);

    [Id(5)]
    public ImmutableQueue<string> RecentOrder { get; init; } = [];

    public int ReceivedIn(string period) => ReceivedByPeriod.GetValueOrDefault(period);

    /// <summary>
    /// Decides an observation: call-out for unacceptable behaviour; else points by source, declined within the
    /// giver's cooldown, cut to what is left of the cap, held when flagged or above the approval threshold.
    /// Points are reserved at once (so concurrent observations never pass the cap); a grant is final only after
    /// <see cref="Settle"/> (the budget check). A known observation returns its first decision.
    /// </summary>
    public (Decision Decision, LedgerState Next) Evaluate(Observation observation, RuleSet rules, IReadOnlyList<string> flags)
    {
        ArgumentNullException.ThrowIfNull(observation);
        ArgumentNullException.ThrowIfNull(rules);
        if (Recent.TryGetValue(observation.ObservationId, out var known))
        {
            return (known, this);
        }

        var period = rules.PeriodOf(observation.ObservedAt);
        Decision Make(Verdict verdict, int points, DeclineReason reason = DeclineReason.Unspecified, IReadOnlyList<string>? why = null) =>
            new(observation.ObservationId, verdict, points, reason, period, rules.Version, [.. why ?? []], []);

        if (observation.Polarity == Polarity.Unacceptable)
        {
            return Remember(Make(Verdict.CallOut, 0));
        }

        var points = rules.PointsFor(observation.BehaviourId, observation.Source);
        if (points <= 0)
        {
            return Remember(Make(Verdict.Declined, 0, DeclineReason.NoPoints));
        }

        var giver = observation.GiverId;
        if (giver.Length > 0 && rules.Cooldown > TimeSpan.Zero && LastRewardFrom.TryGetValue(giver, out var last)
            && (observation.ObservedAt - last).Duration() < rules.Cooldown)
        {
            return Remember(Make(Verdict.Declined, 0, DeclineReason.Cooldown));
        }

        if (rules.CapPerEmployee > 0)
        {
            var left = rules.CapPerEmployee - ReceivedIn(period);
            if (left <= 0)
            {
                return Remember(Make(Verdict.Declined, 0, DeclineReason.CapReached));
            }

            points = Math.Min(points, left);
        }

        var verdict = flags.Count > 0 ? Verdict.Flagged
            : rules.ApprovalThreshold > 0 && points > rules.ApprovalThreshold ? Verdict.PendingApproval
            : Verdict.Granted;
        var decision = Make(verdict, points, why: flags);
        var (_, next) = Remember(decision);
        next = next with
        {
            ReceivedByPeriod = next.ReceivedByPeriod.SetItem(period, ReceivedIn(period) + points),
            LastRewardFrom = giver.Length == 0 ? next.LastRewardFrom
                : next.LastRewardFrom.SetItem(giver, LastRewardFrom.TryGetValue(giver, out var previous) && previous > observation.ObservedAt ? previous : observation.ObservedAt),
        };
        return (decision, next);
    }

    /// <summary>
    /// Completes an evaluated observation once its budget was (or was not) reserved: without budget the points are
    /// released and the observation declined; a grant adds to the lifetime points and earns the badges it crosses.
    /// </summary>
    public (Decision Decision, LedgerState Next) Settle(string observationId, bool budgetReserved, RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (!Recent.TryGetValue(observationId, out var decision))
        {
            throw new InvalidOperationException($"The observation {observationId} was not evaluated by this ledger.");
        }

        if (!decision.HoldsPoints)
        {
            return (decision, this);
        }

        if (!budgetReserved)
        {
            // Also after a settled grant whose transaction rolled back and whose retry found the budget spent.
            var declined = decision with { Verdict = Verdict.Declined, Points = 0, Reason = DeclineReason.BudgetExhausted, Flags = [], BadgesEarned = [] };
            var released = Release(decision.Period, decision.Points);
            if (decision.Verdict == Verdict.Granted && decision.Settled)
            {
                released = released with
                {
                    LifetimeGranted = Math.Max(0, LifetimeGranted - decision.Points),
                    Badges = Badges.Except(decision.BadgesEarned.Select(b => b.BadgeId)),
                };
            }

            return (declined, released with { Recent = Recent.SetItem(observationId, declined) });
        }

        if (decision.Settled)
        {
            return (decision, this);
        }

        if (decision.Verdict != Verdict.Granted)
        {
            var held = decision with { Settled = true };
            return (held, this with { Recent = Recent.SetItem(observationId, held) });
        }

        return Grant(decision, rules);
    }

    /// <summary>An approved pending (or flagged) reward: its points were reserved already; now they count as granted.</summary>
    public (Decision Decision, LedgerState Next) Approve(string observationId, string period, int points, RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (Recent.TryGetValue(observationId, out var known) && known.Verdict == Verdict.Granted)
        {
            return (known, this);
        }

        var pending = known ?? new Decision(observationId, Verdict.PendingApproval, points, DeclineReason.Unspecified, period, rules.Version, [], []);
        return Grant(pending with { Verdict = Verdict.Granted, Flags = [] }, rules);
    }

    /// <summary>A rejected pending (or flagged) reward gives its reserved points back to the period.</summary>
    public (Decision Decision, LedgerState Next) Reject(string observationId, string period, int points, int rulesVersion)
    {
        if (Recent.TryGetValue(observationId, out var known) && known.Verdict == Verdict.Rejected)
        {
            return (known, this);
        }

        var rejected = new Decision(observationId, Verdict.Rejected, 0, DeclineReason.Unspecified, period, rulesVersion, [], []);
        var (_, next) = Release(period, points).Remember(rejected);
        return (rejected, next);
    }

    /// <summary>
    /// A granted reward taken back by hr: its points leave the period (so a later observation can earn again what it used
    /// of the cap) and the lifetime total, and the badges the total no longer reaches (decided by the caller from the
    /// thresholds they were awarded at) are withdrawn, so they can be earned again. The giver's cooldown mark stays (the
    /// giver did give then). Revoking a revoked reward again changes nothing.
    /// </summary>
    public (Decision Decision, LedgerState Next) Revoke(string observationId, string period, int points, int rulesVersion, IReadOnlyCollection<string> withdrawnBadges)
    {
        ArgumentNullException.ThrowIfNull(withdrawnBadges);
        if (Recent.TryGetValue(observationId, out var known) && known.Verdict == Verdict.Revoked)
        {
            return (known, this);
        }

        var revoked = new Decision(observationId, Verdict.Revoked, 0, DeclineReason.Unspecified, period, rulesVersion, [], [], Settled: true);
        var released = Release(period, points) with
        {
            LifetimeGranted = Math.Max(0, LifetimeGranted - points),
            Badges = Badges.Except(withdrawnBadges),
        };
        return released.Remember(revoked);
    }

    private (Decision, LedgerState) Grant(Decision decision, RuleSet rules)
    {
        var lifetime = LifetimeGranted + decision.Points;
        var earned = rules.Badges.Where(b => b.Threshold <= lifetime && !Badges.Contains(b.BadgeId)).ToImmutableArray();
        var granted = decision with { BadgesEarned = earned, Settled = true };
        var (_, next) = Remember(granted);
        next = next with
        {
            LifetimeGranted = lifetime,
            Badges = Badges.Union(earned.Select(b => b.BadgeId)),
        };
        return (granted, next);
    }

    private LedgerState Release(string period, int points) =>
        this with { ReceivedByPeriod = ReceivedByPeriod.SetItem(period, Math.Max(0, ReceivedIn(period) - points)) };

    private (Decision, LedgerState) Remember(Decision decision)
    {
        var order = Recent.ContainsKey(decision.ObservationId) ? RecentOrder : RecentOrder.Enqueue(decision.ObservationId);
        var recent = Recent.SetItem(decision.ObservationId, decision);
        while (recent.Count > RecentLimit)
        {
            order = order.Dequeue(out var oldest);
            recent = recent.Remove(oldest);
        }

        return (decision, this with { Recent = recent, RecentOrder = order });
    }
}

