using System.Collections.Immutable;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults;
using Observation = Transformation.Incentives.Api.Model.Observation;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>An observation to decide, with what its outcome row records beyond it.</summary>
public sealed record Evaluation(Observation Observation, string BehaviourName, string RecognitionId = "");

/// <summary>
/// Turns a batch of observations into their outcomes, one per observation, inside the caller's transaction (the one
/// holding the inbox rows of a BehaviourObserved delivery batch, or a GiveRecognition call's), in a fixed number of
/// round trips whatever the batch size:
/// <list type="number">
/// <item>the outcomes already stored for these observation ids and the peers' recent giving, in one round trip; the
/// ledger states of employees whose ledger is not active, folded together in a second one when there are several;</item>
/// <item>each employee's ledger grain decides that employee's observations in one turn (cap, cooldown, approval,
/// badges), all employees at once;</item>
/// <item>one round trip reads (without locking) what is left of the budgets that pay for the decisions holding points;
/// they are allocated in memory, in order (<see cref="BudgetAllocation"/>); the ledgers settle;</item>
/// <item>one round trip writes every outcome row (a multi-row insert, which writes the rewards' audit entries from its
/// RETURNING), the badges and a <c>NOTIFY</c> per reward for live feeds (delivered only if the transaction commits);</item>
/// <item>one round trip writes the events into the outbox (RewardGranted, RecognitionPublished, BadgeAwarded; RewardHeld for
/// a reward waiting for review, naming the recipient's manager read in the previous round trip);</item>
/// <item>last, one round trip charges the budgets: a conditional <c>UPDATE … WHERE spent + points &lt;= amount</c> per
/// budget row, in (unit, period) order, so a budget row is locked only from there to the commit (and concurrent
/// batches lock in one order: no deadlock).</item>
/// </list>
/// If a concurrent transaction stored one of the observations first (<see cref="ConcurrentOutcomeException"/>), or spent
/// the room of a budget between the read and the charge (<see cref="BudgetChargeRefusedException"/>: under READ COMMITTED
/// the condition is checked again against the row that transaction committed), the batch throws and its transaction must
/// roll back; nothing is overspent. A retry (the event bus hands a failed batch's events to the handler again one by one;
/// GiveRecognition retries its transaction) finds a stored outcome and returns it, or reads the budgets again and settles
/// the ledgers' remembered decisions with what is left now (a settled grant the budget no longer covers is declined as
/// budget exhausted and its points and badges released: <see cref="LedgerState.Settle"/>); the ledgers remember their
/// decisions, so a retry reserves nothing twice. The ledgers are not deactivated on such a failure (as the single-ledger
/// RPCs ReviewReward and RevokeReward do): other batches' decisions in flight on the same ledgers would vanish from
/// memory with them, and a cap could be passed.
/// </summary>
public sealed class RewardPipeline(IGrainFactory grains, LedgerActivations activations, Outbox outbox, TimeProvider time, IOptions<ServiceOptions> service)
{
    /// <summary>The PostgreSQL channel of live-feed notifications; the payload is "&lt;reward id&gt; &lt;employee id&gt;".</summary>
    public const string FeedChannel = "incentives_feed";

    private const string KnownSql = $"SELECT {RewardStore.Columns} FROM outcomes WHERE observation_id = ANY($1)";

    // The nearest unit up each recipient unit's chain with a budget for the period, and what is left of it (not locked:
    // the charge at the end of the batch checks again that it fits).
    private const string BudgetsSql = """
        WITH RECURSIVE request(origin, period) AS (SELECT * FROM unnest($1::text[], $2::text[])),
        chain(origin, period, id, depth) AS (
            SELECT origin, period, origin, 0 FROM request
            UNION ALL
            SELECT c.origin, c.period, u.parent_id, c.depth + 1 FROM chain c JOIN org_units u ON u.org_unit_id = c.id
            WHERE u.parent_id <> '' AND c.depth < 64),
        target AS (
            SELECT DISTINCT ON (c.origin, c.period) c.origin, c.period, c.id FROM chain c
            JOIN budgets b ON b.org_unit_id = c.id AND b.period = c.period ORDER BY c.origin, c.period, c.depth)
        SELECT t.origin, t.period, b.org_unit_id, b.amount - b.spent FROM budgets b JOIN target t ON b.org_unit_id = t.id AND b.period = t.period
        """;

    private const string GivingSql = """
        SELECT
          (SELECT count(*) FROM outcomes o WHERE o.source = 2 AND o.giver_id = t.recipient AND o.employee_id = t.giver AND o.status IN (0, 1, 2)
             AND o.observed_at > t.reciprocal_since)::int,
          (SELECT count(*) FROM outcomes o WHERE o.source = 2 AND o.giver_id = t.giver AND o.observed_at > t.burst_since AND o.observed_at <= t.at)::int
        FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY
          AS t(giver, recipient, at, reciprocal_since, burst_since, n)
        ORDER BY t.n
        """;

    // The recent peer-reward network around a batch's peer gifts (rings and proxies): the standing peer rewards (granted or
    // held) from every person within $4 steps of the batch's people, and into the batch's givers; then the stopped peer
    // rewards to the batch's recipients (held or rejected by review, or declined for the cooldown).
    private const string NetworkSql = """
        WITH RECURSIVE reach(id, depth) AS (
            SELECT DISTINCT p, 0 FROM unnest($1::text[]) AS p
            UNION
            SELECT o.employee_id, r.depth + 1 FROM reach r
            JOIN outcomes o ON o.source = 2 AND o.giver_id = r.id AND o.status IN (0, 1, 2) AND o.observed_at > $2 AND o.observed_at <= $3
            WHERE r.depth < $4)
        SELECT false, o.giver_id, o.employee_id, o.observed_at, o.status, o.decline_reason FROM outcomes o
        WHERE o.source = 2 AND o.status IN (0, 1, 2) AND o.observed_at > $2 AND o.observed_at <= $3
          AND (o.giver_id IN (SELECT id FROM reach) OR o.employee_id = ANY($5))
        UNION ALL
        SELECT true, o.giver_id, o.employee_id, o.observed_at, o.status, o.decline_reason FROM outcomes o
        WHERE o.source = 2 AND o.employee_id = ANY($6) AND o.observed_at > $2 AND o.observed_at <= $3
          AND (o.status IN (2, 5) OR (o.status = 3 AND o.decline_reason = 2))
        """;

    // The outcome rows, and in the same pass the audit entry of each reward among them that the batch created (from the
    // insert's RETURNING: not of an observation another delivery stored first); answers how many outcome rows it inserted.
    private const string InsertSql = """
        WITH inserted AS (
            INSERT INTO outcomes (observation_id, reward_id, employee_id, behaviour_id, behaviour_version, behaviour_name, source, giver_id, points, status,
                decline_reason, period, org_unit_id, budget_unit_id, initiative_id, evidence, message, public, flags, rules_version, recognition_id,
                observed_at, occurred_at)
            SELECT t.o, t.r, t.e, t.b, t.bv, t.bn, t.s, t.g, t.p, t.st, t.d, t.pe, t.u, t.bu, t.i, t.ev, t.m, t.pu,
                CASE WHEN t.f = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(t.f::jsonb)) END, t.rv, t.rc, t.oa, $23
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[], $9::int[], $10::smallint[],
                $11::smallint[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bool[], $19::text[], $20::int[],
                $21::text[], $22::timestamptz[])
              AS t(o, r, e, b, bv, bn, s, g, p, st, d, pe, u, bu, i, ev, m, pu, f, rv, rc, oa)
            ON CONFLICT (observation_id) DO NOTHING
            RETURNING reward_id),
        audited AS (
            INSERT INTO audit_log (entity, entity_id, changed_by, after)
            SELECT 'reward', a.r, $24, a.a::jsonb FROM unnest($25::text[], $26::text[]) WITH ORDINALITY AS a(r, a, n)
            JOIN inserted ON inserted.reward_id = a.r
            ORDER BY a.n)
        SELECT count(*)::int FROM inserted
        """;

    // One budget row's charge, refused (no row updated) if it would overspend: after waiting for a concurrent charge's row
    // lock, PostgreSQL (READ COMMITTED) checks the condition again against the row version that transaction committed.
    private const string ChargeSql = "UPDATE budgets SET spent = spent + $3 WHERE org_unit_id = $1 AND period = $2 AND spent + $3 <= amount";

    private const string BadgesSql = """
        INSERT INTO badges_earned (employee_id, badge_id, name, threshold, reward_id)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[])
        ON CONFLICT DO NOTHING RETURNING employee_id, badge_id
        """;

    private const string ManagersSql = "SELECT employee_id, manager_id FROM employees WHERE employee_id = ANY($1) AND manager_id <> ''";

    private const string NotifySql = $"SELECT count(pg_notify('{FeedChannel}', t.r || ' ' || t.e)) FROM unnest($1::text[], $2::text[]) AS t(r, e)";

    /// <summary>Folding several inactive ledgers together pays from two on; one activates with its own query.</summary>
    private const int FoldAheadFrom = 2;

    /// <summary>The outcome of each evaluation, in the order given (a repeated observation id gets its first occurrence's).</summary>
    public async Task<IReadOnlyList<Reward>> EvaluateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Evaluation> batch,
        RuleSet rules, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(rules);
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        var unique = new List<Evaluation>(batch.Count);
        foreach (var evaluation in batch)
        {
            if (position.TryAdd(evaluation.Observation.ObservationId, unique.Count))
            {
                unique.Add(evaluation);
            }
        }

        var rewards = new Reward[unique.Count];
        var lookup = await LookUpAsync(connection, transaction, unique, rules, cancellationToken);
        var fresh = new List<int>(unique.Count);
        for (var i = 0; i < unique.Count; i++)
        {
            if (lookup.Known.TryGetValue(unique[i].Observation.ObservationId, out var known))
            {
                rewards[i] = known.Reward;
            }
            else
            {
                fresh.Add(i);
            }
        }

        if (fresh.Count > 0)
        {
            var flags = Flags(unique, fresh, lookup.Giving, lookup.Network, rules.AntiGaming);
            var (decisions, spent) = await DecideAsync(connection, transaction, [.. fresh.Select(i => unique[i].Observation)], flags, rules, cancellationToken);
            var written = await WriteAsync(connection, transaction, [.. fresh.Select(i => unique[i])], decisions, spent, rules, cancellationToken);
            for (var k = 0; k < fresh.Count; k++)
            {
                rewards[fresh[k]] = written[k];
            }
        }

        return [.. batch.Select(e => rewards[position[e.Observation.ObservationId]])];
    }

    /// <summary>RewardGranted, RecognitionPublished when public, and BadgeAwarded for each badge not held yet, for one reward granted on review.</summary>
    public async Task PublishGrantAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Reward reward, int behaviourVersion, string initiativeId,
        int rulesVersion, ImmutableArray<Badge> badges, CancellationToken cancellationToken)
    {
        var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        var events = GrantEvents(reward, behaviourVersion, initiativeId, rulesVersion, now);
        foreach (var badge in badges)
        {
            await using var insert = connection.Command(transaction, """
                INSERT INTO badges_earned (employee_id, badge_id, name, threshold, reward_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, reward.EmployeeId, badge.BadgeId, badge.Name, badge.Threshold, reward.RewardId);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                events.Add(BadgeEvent(reward, badge, now));
            }
        }

        await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
    }

    /// <summary>Tells live feeds (of every instance, once the transaction commits) that these rewards changed.</summary>
    public static async Task NotifyFeedsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<Reward> rewards,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        AddNotify(batch, rewards);
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private sealed record Lookup(Dictionary<string, StoredReward> Known, Dictionary<int, GivingHistory> Giving, PeerNetwork Network);

    /// <summary>One round trip: the outcomes already stored, and the peers' giving history.</summary>
    private static async Task<Lookup> LookUpAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Evaluation> unique, RuleSet rules,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(KnownSql, [unique.Select(e => e.Observation.ObservationId).ToArray()]));

        var anti = rules.AntiGaming;
        var peers = anti.ReciprocalMinCount > 0 || anti.BurstMaxCount > 0 || anti.LooksAtNetwork
            ? Enumerable.Range(0, unique.Count).Where(i => IsPeerGift(unique[i].Observation)).ToList()
            : [];
        if (peers.Count > 0)
        {
            var at = peers.Select(i => unique[i].Observation.ObservedAt.ToUniversalTime()).ToArray();
            batch.BatchCommands.Add(Command(GivingSql,
            [
                peers.Select(i => unique[i].Observation.GiverId).ToArray(),
                peers.Select(i => unique[i].Observation.EmployeeId).ToArray(),
                at,
                at.Select(a => a - TimeSpan.FromDays(anti.ReciprocalWindowDays)).ToArray(),
                at.Select(a => a - TimeSpan.FromMinutes(anti.BurstWindowMinutes)).ToArray(),
            ]));
        }

        var network = peers.Count > 0 && anti.LooksAtNetwork;
        if (network)
        {
            var observations = peers.Select(i => unique[i].Observation).ToList();
            var givers = observations.Select(o => o.GiverId).Distinct(StringComparer.Ordinal).ToArray();
            var recipients = observations.Select(o => o.EmployeeId).Distinct(StringComparer.Ordinal).ToArray();
            var at = observations.Select(o => o.ObservedAt.ToUniversalTime()).ToList();
            batch.BatchCommands.Add(Command(NetworkSql,
            [
                givers.Concat(recipients).Distinct(StringComparer.Ordinal).ToArray(),
                at.Min() - anti.NetworkWindow,
                at.Max(),
                anti.RingMaxLength >= 3 ? anti.RingMaxLength - 2 : 0,
                givers,
                recipients,
            ]));
        }

        var lookup = new Lookup([], [], PeerNetwork.Empty);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var stored = RewardStore.Read(reader);
            lookup.Known[stored.Reward.ObservationId] = stored;
        }

        if (peers.Count > 0)
        {
            await reader.NextResultAsync(cancellationToken);
            var k = 0;
            while (await reader.ReadAsync(cancellationToken))
            {
                lookup.Giving[peers[k++]] = new GivingHistory(reader.GetInt32(0), reader.GetInt32(1));
            }
        }

        if (network)
        {
            await reader.NextResultAsync(cancellationToken);
            var (gifts, stopped) = (new List<PeerGift>(), new List<StoppedGift>());
            while (await reader.ReadAsync(cancellationToken))
            {
                var (giver, recipient, at) = (reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3));
                if (!reader.GetBoolean(0))
                {
                    gifts.Add(new PeerGift(giver, recipient, at));
                    continue;
                }

                stopped.Add(new StoppedGift(giver, recipient, at, (Verdict)reader.GetInt16(4) switch
                {
                    Verdict.Flagged => StopReason.Held,
                    Verdict.Rejected => StopReason.Rejected,
                    _ => StopReason.Cooldown,
                }));
            }

            lookup = lookup with { Network = new PeerNetwork(gifts, stopped) };
        }

        return lookup;
    }

    /// <summary>
    /// The budget that pays for each claim (the nearest up its unit's chain) and what is left of it, read without a lock:
    /// <see cref="ChargeAsync"/> checks again, at the end of the transaction, that each charge still fits.
    /// </summary>
    private static async Task<(Dictionary<(string OrgUnitId, string Period), string> BudgetOf, Dictionary<(string BudgetUnitId, string Period), int> Left)>
        ReadBudgetsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, HashSet<(string OrgUnitId, string Period)> pairs,
            CancellationToken cancellationToken)
    {
        var budgetOf = new Dictionary<(string, string), string>();
        var left = new Dictionary<(string, string), int>();
        if (pairs.Count == 0)
        {
            return (budgetOf, left);
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(BudgetsSql, [pairs.Select(p => p.OrgUnitId).ToArray(), pairs.Select(p => p.Period).ToArray()]));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (origin, period, unit) = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
            budgetOf[(origin, period)] = unit;
            left[(unit, period)] = reader.GetInt32(3);
        }

        return (budgetOf, left);
    }

    /// <summary>The anti-gaming reasons of each fresh observation (peer rewards only), counting earlier peer rewards of the batch.</summary>
    private static ImmutableArray<ImmutableArray<string>> Flags(List<Evaluation> unique, List<int> fresh, Dictionary<int, GivingHistory> giving,
        PeerNetwork network, AntiGamingThresholds thresholds)
    {
        var flags = Enumerable.Repeat(ImmutableArray<string>.Empty, fresh.Count).ToArray();
        var peers = Enumerable.Range(0, fresh.Count).Where(k => giving.ContainsKey(fresh[k])).ToList();
        if (peers.Count == 0)
        {
            return [.. flags];
        }

        var gifts = peers.Select(k => unique[fresh[k]].Observation).Select(o => new PeerGift(o.GiverId, o.EmployeeId, o.ObservedAt)).ToList();
        var histories = AntiGaming.WithEarlierInBatch(gifts, [.. peers.Select(k => giving[fresh[k]])], thresholds);
        var networkFlags = thresholds.LooksAtNetwork ? AntiGaming.NetworkFlagsInBatch(gifts, network, thresholds) : null;
        for (var p = 0; p < peers.Count; p++)
        {
            var observation = unique[fresh[peers[p]]].Observation;
            flags[peers[p]] = [.. AntiGaming.Flags(observation.Source, observation.GiverId, observation.EmployeeId, histories[p], thresholds),
                .. networkFlags?[p] ?? []];
        }

        return [.. flags];
    }

    /// <summary>
    /// The ledgers decide, the budgets are read and allocated in order, the ledgers settle: the final decision of each
    /// observation with its budget charge, and the points to add to each budget (charged by <see cref="ChargeAsync"/>).
    /// </summary>
    private async Task<((Decision Decision, BudgetCharge? Charge)[] Decisions, IReadOnlyDictionary<(string BudgetUnitId, string Period), int> Spent)>
        DecideAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Observation> observations,
            ImmutableArray<ImmutableArray<string>> flags, RuleSet rules, CancellationToken cancellationToken)
    {
        var byEmployee = Enumerable.Range(0, observations.Count).GroupBy(i => observations[i].EmployeeId, StringComparer.Ordinal).ToList();
        var cold = byEmployee.Select(g => g.Key).Where(id => !activations.IsActive(id)).ToList();
        if (cold.Count >= FoldAheadFrom)
        {
            activations.Offer(await LedgerStore.FoldAsync(connection, transaction, cold, cancellationToken));
        }

        // The budgets of the (unit, period) each observation falls in, read before deciding: when none has a budget (no
        // budgets at all, the common case) the ledgers settle their grants in the deciding turn, one grain call per employee.
        var pairs = observations.Select(o => (o.OrgUnitId, rules.PeriodOf(o.ObservedAt))).ToHashSet();
        var (budgetOf, left) = await ReadBudgetsAsync(connection, transaction, pairs, cancellationToken);
        var unbudgeted = budgetOf.Count == 0;
        var decisions = new Decision[observations.Count];
        try
        {
            await Task.WhenAll(byEmployee.Select(async g =>
            {
                var made = await grains.GetGrain<ILedgerGrain>(g.Key).EvaluateAllAsync([.. g.Select(i => observations[i])], rules, [.. g.Select(i => flags[i])],
                    unbudgeted);
                var k = 0;
                foreach (var i in g)
                {
                    decisions[i] = made[k++];
                }
            }));
        }
        finally
        {
            activations.Discard(cold);
        }

        var holding = Enumerable.Range(0, decisions.Length).Where(i => decisions[i].HoldsPoints).ToList();
        var claims = holding.Select(i => new BudgetClaim(observations[i].OrgUnitId, decisions[i].Period, decisions[i].Points)).ToList();
        if (claims.Any(c => !pairs.Contains((c.OrgUnitId, c.Period))))
        {
            // A retried observation decided under earlier rules, in another period: read for what the decisions claim.
            (budgetOf, left) = await ReadBudgetsAsync(connection, transaction, claims.Select(c => (c.OrgUnitId, c.Period)).ToHashSet(), cancellationToken);
            unbudgeted = false;
        }

        if (unbudgeted)
        {
            // Settled in the deciding turn: every grant is unbudgeted (reserved, charged to no budget).
            return ([.. decisions.Select(d => (d, d.HoldsPoints ? new BudgetCharge(true, "") : (BudgetCharge?)null))],
                new Dictionary<(string BudgetUnitId, string Period), int>());
        }

        var (charges, spent) = BudgetAllocation.Allocate(claims, budgetOf, left);
        var result = new (Decision, BudgetCharge?)[decisions.Length];
        var chargeOf = new Dictionary<int, BudgetCharge>();
        for (var h = 0; h < holding.Count; h++)
        {
            chargeOf[holding[h]] = charges[h];
        }

        await Task.WhenAll(holding.GroupBy(i => observations[i].EmployeeId, StringComparer.Ordinal).Select(async g =>
        {
            var settled = await grains.GetGrain<ILedgerGrain>(g.Key).SettleAllAsync([.. g.Select(i => observations[i].ObservationId)],
                [.. g.Select(i => chargeOf[i].Reserved)], rules);
            var k = 0;
            foreach (var i in g)
            {
                decisions[i] = settled[k++];
            }
        }));

        for (var i = 0; i < decisions.Length; i++)
        {
            result[i] = (decisions[i], chargeOf.GetValueOrDefault(i));
        }

        return (result, spent);
    }

    /// <summary>Three round trips: the outcome rows, badges and feed notifications; the outbox; last, the budget charges.</summary>
    private async Task<Reward[]> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Evaluation> evaluations,
        (Decision Decision, BudgetCharge? Charge)[] decisions, IReadOnlyDictionary<(string BudgetUnitId, string Period), int> spent, RuleSet rules,
        CancellationToken cancellationToken)
    {
        var now = Sql.AsStored(time.GetUtcNow());
        var rewards = new Reward[evaluations.Count];
        for (var i = 0; i < evaluations.Count; i++)
        {
            var (observation, decision) = (evaluations[i].Observation, decisions[i].Decision);
            var reward = new Reward
            {
                RewardId = Guid.CreateVersion7().ToString(),
                ObservationId = observation.ObservationId,
                EmployeeId = observation.EmployeeId,
                BehaviourId = observation.BehaviourId,
                BehaviourName = evaluations[i].BehaviourName,
                Source = observation.Source,
                GiverId = observation.GiverId,
                Points = decision.Points,
                Status = RewardStore.ToStatus(decision.Verdict),
                DeclineReason = decision.Reason,
                Period = decision.Period,
                OrgUnitId = observation.OrgUnitId,
                Public = decision.Verdict != Verdict.CallOut && (observation.Public ?? rules.ObservationsPublic),
                Message = observation.Message,
                OccurredAt = Timestamp.FromDateTimeOffset(now),
            };
            reward.Flags.AddRange(decision.Flags);
            rewards[i] = reward;
        }

        var charged = decisions.Select(d => d.Charge is { Reserved: true } charge ? charge.BudgetUnitId : "").ToArray();
        var granted = Enumerable.Range(0, rewards.Length).Where(i => decisions[i].Decision.Verdict == Verdict.Granted).ToList();
        var badges = granted.SelectMany(i => decisions[i].Decision.BadgesEarned.Select(b => (Reward: rewards[i], Badge: b))).ToList();
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (badges.Count > 0)
        {
            // First, so that its rows are the reader's first result.
            batch.BatchCommands.Add(Command(BadgesSql, [badges.Select(b => b.Reward.EmployeeId).ToArray(), badges.Select(b => b.Badge.BadgeId).ToArray(),
                badges.Select(b => b.Badge.Name).ToArray(), badges.Select(b => b.Badge.Threshold).ToArray(), badges.Select(b => b.Reward.RewardId).ToArray()]));
        }

        var audited = rewards.Where((_, i) => decisions[i].Decision.Verdict is Verdict.Granted or Verdict.PendingApproval or Verdict.Flagged).ToList();
        var insert = Command(InsertSql,
        [
            rewards.Select(r => r.ObservationId).ToArray(),
            rewards.Select(r => r.RewardId).ToArray(),
            rewards.Select(r => r.EmployeeId).ToArray(),
            rewards.Select(r => r.BehaviourId).ToArray(),
            evaluations.Select(e => e.Observation.BehaviourVersion).ToArray(),
            rewards.Select(r => r.BehaviourName).ToArray(),
            rewards.Select(r => (int)r.Source).ToArray(),
            rewards.Select(r => r.GiverId).ToArray(),
            rewards.Select(r => r.Points).ToArray(),
            decisions.Select(d => (short)d.Decision.Verdict).ToArray(),
            rewards.Select(r => (short)r.DeclineReason).ToArray(),
            rewards.Select(r => r.Period).ToArray(),
            rewards.Select(r => r.OrgUnitId).ToArray(),
            charged,
            evaluations.Select(e => e.Observation.InitiativeId).ToArray(),
            evaluations.Select(e => e.Observation.Evidence).ToArray(),
            rewards.Select(r => r.Message).ToArray(),
            rewards.Select(r => r.Public).ToArray(),
            rewards.Select(r => r.Flags.Count == 0 ? "[]" : JsonSerializer.Serialize(r.Flags.ToArray())).ToArray(),
            decisions.Select(d => d.Decision.RulesVersion).ToArray(),
            evaluations.Select(e => e.RecognitionId).ToArray(),
            evaluations.Select(e => e.Observation.ObservedAt.ToUniversalTime()).ToArray(),
            now,

            // Rewards, granted or waiting for a review, are audited; call-outs and declined observations are not rewards (and a
            // call-out must not reach the executives who read the trail). The rules decide them: the service's identity is the author.
            $"service:{service.Value.Name}",
            audited.Select(r => r.RewardId).ToArray(),
            audited.Select(r => JsonFormatter.Default.Format(r)).ToArray(),
        ]);
        batch.BatchCommands.Add(insert);

        AddNotify(batch, [.. rewards.Where((_, i) => decisions[i].Decision.Verdict != Verdict.CallOut)]);

        var held = Enumerable.Range(0, rewards.Length).Where(i => decisions[i].Decision.Verdict is Verdict.PendingApproval or Verdict.Flagged).ToList();
        if (held.Count > 0)
        {
            // Last, so that its rows are the reader's last result: who may approve each held reward besides hr.
            batch.BatchCommands.Add(Command(ManagersSql, [held.Select(i => rewards[i].EmployeeId).Distinct(StringComparer.Ordinal).ToArray()]));
        }

        var awarded = new HashSet<(string EmployeeId, string BadgeId)>();
        var managers = new Dictionary<string, string>(StringComparer.Ordinal);
        int inserted;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            if (badges.Count > 0)
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    awarded.Add((reader.GetString(0), reader.GetString(1)));
                }

                await reader.NextResultAsync(cancellationToken);
            }

            await reader.ReadAsync(cancellationToken);
            inserted = reader.GetInt32(0);
            if (held.Count > 0)
            {
                await reader.NextResultAsync(cancellationToken); // the notifications' count
                await reader.NextResultAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    managers[reader.GetString(0)] = reader.GetString(1);
                }
            }
        }

        if (inserted != rewards.Length)
        {
            // Another transaction stored one of these observations meanwhile: roll back; a retry returns its outcome.
            throw new ConcurrentOutcomeException(
                $"{rewards.Length - inserted} of {rewards.Length} observations were decided concurrently; the batch must be retried.");
        }

        var stamp = Timestamp.FromDateTimeOffset(now);
        var events = new List<OutgoingEvent>();
        foreach (var i in granted)
        {
            var observation = evaluations[i].Observation;
            events.AddRange(GrantEvents(rewards[i], observation.BehaviourVersion, observation.InitiativeId, decisions[i].Decision.RulesVersion, stamp));
            events.AddRange(decisions[i].Decision.BadgesEarned
                .Where(b => awarded.Contains((rewards[i].EmployeeId, b.BadgeId)))
                .Select(b => BadgeEvent(rewards[i], b, stamp)));
        }

        foreach (var i in held)
        {
            events.Add(HeldEvent(rewards[i], decisions[i].Decision.Verdict, managers.GetValueOrDefault(rewards[i].EmployeeId, ""), stamp));
        }

        if (events.Count > 0)
        {
            await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
        }

        // Last, so that the budget rows stay locked only from here to the commit.
        await ChargeAsync(connection, transaction, spent, cancellationToken);
        return rewards;
    }

    /// <summary>
    /// Adds the allocated points to each budget, one conditional UPDATE per budget row in (unit, period) order, in one
    /// round trip; throws <see cref="BudgetChargeRefusedException"/> if a concurrent transaction spent the room first.
    /// </summary>
    private static async Task ChargeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IReadOnlyDictionary<(string BudgetUnitId, string Period), int> spent, CancellationToken cancellationToken)
    {
        var charges = spent.Where(c => c.Value > 0).OrderBy(c => c.Key.BudgetUnitId, StringComparer.Ordinal).ThenBy(c => c.Key.Period, StringComparer.Ordinal).ToList();
        if (charges.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var ((unit, period), points) in charges)
        {
            batch.BatchCommands.Add(Command(ChargeSql, [unit, period, points]));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        var refused = new List<string>();
        for (var i = 0; i < charges.Count; i++)
        {
            if (batch.BatchCommands[i].RecordsAffected != 1)
            {
                refused.Add($"{charges[i].Key.BudgetUnitId} ({charges[i].Key.Period})");
            }
        }

        if (refused.Count > 0)
        {
            throw new BudgetChargeRefusedException(
                $"The budget of {string.Join(", ", refused)} no longer covers this batch's charge: a concurrent transaction spent it first; the batch must be retried.");
        }
    }

    private static bool IsPeerGift(Observation observation) =>
        observation is { Source: ObservationSource.Peer, Polarity: Polarity.Desired } && observation.GiverId.Length > 0;

    private static void AddNotify(NpgsqlBatch batch, IReadOnlyCollection<Reward> rewards)
    {
        if (rewards.Count > 0)
        {
            batch.BatchCommands.Add(Command(NotifySql, [rewards.Select(r => r.RewardId).ToArray(), rewards.Select(r => r.EmployeeId).ToArray()]));
        }
    }

    /// <summary>A batch command with positional parameters: each element of <paramref name="parameters"/> (an array binds as one array parameter).</summary>
    private static NpgsqlBatchCommand Command(string sql, IReadOnlyList<object> parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }

    private static List<OutgoingEvent> GrantEvents(Reward reward, int behaviourVersion, string initiativeId, int rulesVersion, Timestamp now)
    {
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

        return events;
    }

    /// <summary>
    /// A held reward's RewardHeld, naming the manager who may approve it as <see cref="Access.MayReview"/> decides: not for a
    /// flagged reward (hr's alone), nor a manager who gave it.
    /// </summary>
    private static OutgoingEvent HeldEvent(Reward reward, Verdict verdict, string managerId, Timestamp now) => new(reward.EmployeeId, new RewardHeld
    {
        RewardId = reward.RewardId,
        EmployeeId = reward.EmployeeId,
        ApproverId = verdict == Verdict.PendingApproval && !string.Equals(managerId, reward.GiverId, StringComparison.Ordinal)
            && !string.Equals(managerId, reward.EmployeeId, StringComparison.Ordinal) ? managerId : "",
        Points = reward.Points,
        BehaviourId = reward.BehaviourId,
        BehaviourName = reward.BehaviourName,
        OrgUnitId = reward.OrgUnitId,
        HeldAt = now,
    });

    private static OutgoingEvent BadgeEvent(Reward reward, Badge badge, Timestamp now) => new(reward.EmployeeId, new BadgeAwarded
    {
        EmployeeId = reward.EmployeeId,
        BadgeId = badge.BadgeId,
        BadgeName = badge.Name,
        Threshold = badge.Threshold,
        RewardId = reward.RewardId,
        AwardedAt = now,
    });
}

/// <summary>Another transaction stored the outcome of an observation of the batch first: the batch's transaction must roll back and be retried.</summary>
public sealed class ConcurrentOutcomeException(string message) : Exception(message);

/// <summary>
/// A budget no longer covers a batch's charge (a concurrent transaction spent its room after the batch read it): the
/// batch's transaction must roll back and be retried, which reads the budgets again.
/// </summary>
public sealed class BudgetChargeRefusedException(string message) : Exception(message);
