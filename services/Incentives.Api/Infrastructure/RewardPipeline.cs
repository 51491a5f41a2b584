using System.Collections.Immutable;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Actors;
using Transformation.EventBus;
using Transformation.Incentives.Api.Actors;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// Turns one observation into its one outcome, inside the caller's transaction (the subscriber's, which holds the inbox
/// row, or a GiveRecognition call's): anti-gaming checks, the employee's ledger actor (cap, cooldown, approval, badges),
/// the budget charge, the outcome row keyed by the observation id, and the events through the outbox.
/// </summary>
public sealed class RewardPipeline(ActorFactory actors, Outbox outbox, TimeProvider time)
{
    public async Task<Reward> EvaluateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Observation observation, RuleSet rules,
        string behaviourName, CancellationToken cancellationToken, string recognitionId = "")
    {
        if (await RewardStore.FindAsync(connection, transaction, "observation_id", observation.ObservationId, forUpdate: false, cancellationToken) is { } known)
        {
            return known.Reward;
        }

        IReadOnlyList<string> flags = [];
        if (observation is { Source: ObservationSource.Peer, Polarity: Polarity.Desired } && observation.GiverId.Length > 0
            && (rules.AntiGaming.ReciprocalMinCount > 0 || rules.AntiGaming.BurstMaxCount > 0))
        {
            var history = await RewardStore.GivingHistoryAsync(connection, transaction, observation.GiverId, observation.EmployeeId, observation.ObservedAt,
                rules.AntiGaming, cancellationToken);
            flags = AntiGaming.Flags(observation.Source, observation.GiverId, observation.EmployeeId, history, rules.AntiGaming);
        }

        var ledger = actors.Get<ILedgerActor>(observation.EmployeeId);
        var decision = await ledger.EvaluateAsync(observation, rules, [.. flags]);
        var isPublic = decision.Verdict != Verdict.CallOut && (observation.Public ?? rules.ObservationsPublic);
        var rewardId = Guid.CreateVersion7().ToString();
        await using (var insert = connection.Command(transaction, """
            INSERT INTO outcomes (observation_id, reward_id, employee_id, behaviour_id, behaviour_version, behaviour_name, source, giver_id, points, status,
                decline_reason, period, org_unit_id, initiative_id, evidence, message, public, flags, rules_version, recognition_id, observed_at, occurred_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
            ON CONFLICT (observation_id) DO NOTHING
            """, observation.ObservationId, rewardId, observation.EmployeeId, observation.BehaviourId, observation.BehaviourVersion, behaviourName,
            (int)observation.Source, observation.GiverId, decision.Points, (short)decision.Verdict, (short)decision.Reason, decision.Period,
            observation.OrgUnitId, observation.InitiativeId, observation.Evidence, observation.Message, isPublic, Sql.TextArray(decision.Flags),
            rules.Version, recognitionId, observation.ObservedAt, time.GetUtcNow()))
        {
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                // A concurrent delivery of the same observation committed first: its outcome is the one.
                var first = await RewardStore.FindAsync(connection, transaction, "observation_id", observation.ObservationId, forUpdate: false, cancellationToken);
                return first!.Reward;
            }
        }

        if (decision.HoldsPoints)
        {
            var charge = await BudgetStore.ChargeAsync(connection, transaction, observation.OrgUnitId, decision.Period, decision.Points, cancellationToken);
            decision = await ledger.SettleAsync(observation.ObservationId, charge.Reserved, rules);
            await using var update = connection.Command(transaction,
                "UPDATE outcomes SET status = $2, points = $3, decline_reason = $4, budget_unit_id = $5, flags = $6 WHERE observation_id = $1",
                observation.ObservationId, (short)decision.Verdict, decision.Points, (short)decision.Reason, charge.Reserved ? charge.BudgetUnitId : "",
                Sql.TextArray(decision.Flags));
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        var reward = (await RewardStore.FindAsync(connection, transaction, "observation_id", observation.ObservationId, forUpdate: false, cancellationToken))!.Reward;
        if (decision.Verdict == Verdict.Granted)
        {
            await PublishGrantAsync(connection, transaction, reward, observation.BehaviourVersion, observation.InitiativeId, rules.Version, decision.BadgesEarned,
                cancellationToken);
        }

        return reward;
    }

    /// <summary>RewardGranted, RecognitionPublished when public, and BadgeAwarded for each badge not held yet: in the caller's transaction.</summary>
    public async Task PublishGrantAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Reward reward, int behaviourVersion, string initiativeId,
        int rulesVersion, ImmutableArray<Badge> badges, CancellationToken cancellationToken)
    {
        var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        var events = new List<OutgoingEvent>
        {
            new(reward.EmployeeId, new RewardGranted
            {
                RewardId = reward.RewardId,
                ObservationId = reward.ObservationId,
                EmployeeId = reward.EmployeeId,
                BehaviourId = reward.BehaviourId,
                BehaviourVersion = behaviourVersion,
                Source = reward.Source,
                GiverId = reward.GiverId,
                Points = reward.Points,
                Period = reward.Period,
                OrgUnitId = reward.OrgUnitId,
                InitiativeId = initiativeId,
                RulesVersion = rulesVersion,
                Public = reward.Public,
                GrantedAt = now,
            }),
        };
        if (reward.Public)
        {
            events.Add(new OutgoingEvent(reward.EmployeeId, new RecognitionPublished
            {
                RewardId = reward.RewardId,
                EmployeeId = reward.EmployeeId,
                BehaviourId = reward.BehaviourId,
                BehaviourName = reward.BehaviourName,
                GiverId = reward.GiverId,
                Message = reward.Message,
                Points = reward.Points,
                OrgUnitId = reward.OrgUnitId,
                PublishedAt = now,
            }));
        }

        foreach (var badge in badges)
        {
            await using var insert = connection.Command(transaction, """
                INSERT INTO badges_earned (employee_id, badge_id, name, threshold, reward_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, reward.EmployeeId, badge.BadgeId, badge.Name, badge.Threshold, reward.RewardId);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                events.Add(new OutgoingEvent(reward.EmployeeId, new BadgeAwarded
                {
                    EmployeeId = reward.EmployeeId,
                    BadgeId = badge.BadgeId,
                    BadgeName = badge.Name,
                    Threshold = badge.Threshold,
                    RewardId = reward.RewardId,
                    AwardedAt = now,
                }));
            }
        }

        await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
    }
}
