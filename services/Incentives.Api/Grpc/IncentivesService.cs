using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.Audit.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Observation = Transformation.Incentives.Api.Model.Observation;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Incentives.Api.Grpc;

/// <summary>The gRPC surface: validates, checks the caller, calls the model and the stores, maps.</summary>
public sealed partial class IncentivesService(IncentivesDatabase database, Outbox outbox, RulesStore rulesStore, BehaviourCache behaviours, RewardPipeline pipeline,
    IGrainFactory grains, FeedHub feeds, IHostApplicationLifetime lifetime, IHostEnvironment environment, IOptions<IncentivesOptions> options, TimeProvider time) : V1.IncentivesService.IncentivesServiceBase
{
    private const int MaxPage = 500;
    private const int MaxRecipients = 20;

    /// <summary>Transactions a GiveRecognition call tries when concurrent grants keep spending a budget's room before its charge.</summary>
    private const int BudgetAttempts = 3;
    private const int MaxReasonLength = 1000;
    private const int DefaultLeaderboardSize = 10;
    private const int MaxLeaderboardSize = 100;

    /// <summary>How long an ended live feed waits for a client that stopped reading before resetting its stream.</summary>
    private static readonly TimeSpan StalledWriteGrace = TimeSpan.FromSeconds(30);

    // ---- Catalogue ----

    public override async Task<DefineBehaviourResponse> DefineBehaviour(DefineBehaviourRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = Behaviours.Validate(request.Behaviour).ToList();
        RequireKey(request.IdempotencyKey, violations);
        if (request.BehaviourId.Length > 0 && !Behaviours.IsValidId(request.BehaviourId))
        {
            violations.Add(("behaviour_id", "Lower-case letters, digits and '-', at most 63 characters."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"DefineBehaviour:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, DefineBehaviourResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var snapshot = Snapshot(request.BehaviourId.Length > 0 ? request.BehaviourId : Guid.CreateVersion7().ToString("n"), 1, request.Behaviour, false, caller);
            if (!await CatalogueStore.InsertAsync(connection, transaction, snapshot, ct))
            {
                throw new RpcException(new Status(StatusCode.AlreadyExists, $"The behaviour {snapshot.BehaviourId} exists already."));
            }

            await AuditLog.AppendAsync(connection, transaction, "behaviour", snapshot.BehaviourId, caller.Subject, null, JsonFormatter.Default.Format(snapshot), ct);
            await outbox.EnqueueAsync(connection, transaction, snapshot.BehaviourId, new BehaviourDefined { Behaviour = snapshot }, ct);
            var response = new DefineBehaviourResponse { Behaviour = snapshot };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct, behaviours.Invalidate);
    }

    public override async Task<ReviseBehaviourResponse> ReviseBehaviour(ReviseBehaviourRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = Behaviours.Validate(request.Behaviour).ToList();
        RequireKey(request.IdempotencyKey, violations);
        if (request.BehaviourId.Length == 0)
        {
            violations.Add(("behaviour_id", "The behaviour id is required."));
        }

        if (request.ExpectedVersion <= 0)
        {
            violations.Add(("expected_version", "The version the change is based on is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"ReviseBehaviour:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, ReviseBehaviourResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var current = await CatalogueStore.GetAsync(connection, transaction, request.BehaviourId, 0, ct)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"No behaviour {request.BehaviourId}."));
            if (current.Version != request.ExpectedVersion)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The behaviour is at version {current.Version}, not {request.ExpectedVersion}."));
            }

            var snapshot = Snapshot(current.BehaviourId, current.Version + 1, request.Behaviour, request.Retired, caller);
            if (!await CatalogueStore.InsertAsync(connection, transaction, snapshot, ct))
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The behaviour changed concurrently; read it again."));
            }

            await AuditLog.AppendAsync(connection, transaction, "behaviour", snapshot.BehaviourId, caller.Subject, JsonFormatter.Default.Format(current),
                JsonFormatter.Default.Format(snapshot), ct);
            await outbox.EnqueueAsync(connection, transaction, snapshot.BehaviourId, new BehaviourRevised { Behaviour = snapshot }, ct);
            var response = new ReviseBehaviourResponse { Behaviour = snapshot };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct, behaviours.Invalidate);
    }

    public override async Task<GetBehaviourResponse> GetBehaviour(GetBehaviourRequest request, ServerCallContext context)
    {
        context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var snapshot = await CatalogueStore.GetAsync(connection, null, request.BehaviourId, request.Version, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"No behaviour {request.BehaviourId}{(request.Version > 0 ? $" at version {request.Version}" : "")}."));
        return new GetBehaviourResponse { Behaviour = snapshot };
    }

    public override async Task<ListBehavioursResponse> ListBehaviours(ListBehavioursRequest request, ServerCallContext context)
    {
        context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var response = new ListBehavioursResponse();
        response.Behaviours.AddRange(await CatalogueStore.ListAsync(connection, request.Polarity, request.IncludeRetired, context.CancellationToken));
        return response;
    }

    public override async Task<ListBehaviourVersionsResponse> ListBehaviourVersions(ListBehaviourVersionsRequest request, ServerCallContext context)
    {
        context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var versions = await CatalogueStore.VersionsAsync(connection, request.BehaviourId, context.CancellationToken);
        if (versions.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"No behaviour {request.BehaviourId}."));
        }

        var response = new ListBehaviourVersionsResponse();
        response.Versions.AddRange(versions);
        return response;
    }

    // ---- Rules and budgets ----

    public override async Task<UpdateIncentiveRulesResponse> UpdateIncentiveRules(UpdateIncentiveRulesRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = RuleSet.Validate(request.Rules).ToList();
        RequireKey(request.IdempotencyKey, violations);
        if (request.ExpectedVersion < 0)
        {
            violations.Add(("expected_version", "Must not be negative."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"UpdateIncentiveRules:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, UpdateIncentiveRulesResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var current = await RulesStore.GetAsync(connection, transaction, 0, ct);
            if ((current?.Version ?? 0) != request.ExpectedVersion)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The rules are at version {current?.Version ?? 0}, not {request.ExpectedVersion}."));
            }

            var version = request.ExpectedVersion + 1;
            if (!await RulesStore.InsertAsync(connection, transaction, version, request.Rules, caller.Subject, ct))
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The rules changed concurrently; read them again."));
            }

            await AuditLog.AppendAsync(connection, transaction, "incentive_rules", version.ToString(System.Globalization.CultureInfo.InvariantCulture), caller.Subject,
                current is null ? null : JsonFormatter.Default.Format(current.Rules), JsonFormatter.Default.Format(request.Rules), ct);
            var response = new UpdateIncentiveRulesResponse { Version = version, Rules = request.Rules };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct, rulesStore.Invalidate);
    }

    public override async Task<GetIncentiveRulesResponse> GetIncentiveRules(GetIncentiveRulesRequest request, ServerCallContext context)
    {
        // Everyone may read the rules: recognition that explains itself.
        context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var stored = await RulesStore.GetAsync(connection, null, request.Version, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, request.Version > 0 ? $"No rules version {request.Version}." : "No rules have been set."));
        return new GetIncentiveRulesResponse
        {
            Version = stored.Version,
            Rules = stored.Rules,
            ChangedBy = stored.ChangedBy,
            ChangedAt = Timestamp.FromDateTimeOffset(stored.ChangedAt),
        };
    }

    public override async Task<SetBudgetResponse> SetBudget(SetBudgetRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.OrgUnitId.Length == 0)
        {
            violations.Add(("org_unit_id", "The org unit is required."));
        }

        if (!Period.IsValidKey(request.Period))
        {
            violations.Add(("period", "A period such as 2026-11, 2026-Q4 or 2026-W47 is required."));
        }

        if (request.Amount is < 0 or > RuleSet.MaxPoints)
        {
            violations.Add(("amount", $"From 0 to {RuleSet.MaxPoints} points."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"SetBudget:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, SetBudgetResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var before = await BudgetStore.GetAsync(connection, transaction, request.OrgUnitId, request.Period, ct);
            var budget = await BudgetStore.SetAsync(connection, transaction, request.OrgUnitId, request.Period, request.Amount, ct);
            await AuditLog.AppendAsync(connection, transaction, "budget", $"{request.OrgUnitId}/{request.Period}", caller.Subject,
                before is null ? null : JsonFormatter.Default.Format(before), JsonFormatter.Default.Format(budget), ct);
            var response = new SetBudgetResponse { Budget = budget };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    public override async Task<GetBudgetResponse> GetBudget(GetBudgetRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var budget = await BudgetStore.GetAsync(connection, null, request.OrgUnitId, request.Period, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"No budget for {request.OrgUnitId} in {request.Period}."));
        return new GetBudgetResponse { Budget = budget };
    }

    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return await AuditLog.ListAsync(connection, request, context.CancellationToken);
    }

    // ---- Recognition ----

    public override async Task<GiveRecognitionResponse> GiveRecognition(GiveRecognitionRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.RecipientIds.Count is 0 or > MaxRecipients || request.RecipientIds.Any(string.IsNullOrWhiteSpace))
        {
            violations.Add(("recipient_ids", $"1 to {MaxRecipients} recipients are required."));
        }
        else if (request.RecipientIds.Distinct(StringComparer.Ordinal).Count() != request.RecipientIds.Count)
        {
            violations.Add(("recipient_ids", "Each recipient may appear once."));
        }
        else if (request.RecipientIds.Contains(caller.Subject, StringComparer.Ordinal))
        {
            violations.Add(("recipient_ids", "Recognition is for colleagues, not for oneself."));
        }

        if (request.Message.Length is 0 or > 1000)
        {
            violations.Add(("message", "A message of 1 to 1000 characters is required."));
        }

        var ct = context.CancellationToken;
        var behaviour = request.BehaviourId.Length == 0 ? null : await behaviours.FindAsync(request.BehaviourId, ct);
        if (behaviour is null || behaviour.Retired || behaviour.Polarity != Polarity.Desired)
        {
            violations.Add(("behaviour_id", "A current desired behaviour from the catalogue is required."));
        }

        ThrowIfAny(violations);
        var rules = await rulesStore.CurrentAsync(ct);
        var pointsEach = rules.PointsFor(behaviour!.BehaviourId, ObservationSource.Peer);

        // A budget charge refused because a concurrent grant spent the room first rolls the transaction back; a fresh one
        // reads the budgets again and settles the ledgers' remembered decisions (the observation ids come from the key, so the
        // recipients' caps are reserved once), declining what the budget no longer covers. Any other failure after the
        // recipients' ledgers decided lets their next activation fold what the database holds: the decisions never committed.
        string[] decidedBy = [];
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await GiveInTransactionAsync();
            }
            catch (BudgetChargeRefusedException) when (attempt < BudgetAttempts)
            {
            }
            catch (BudgetChargeRefusedException exception)
            {
                throw new RpcException(new Status(StatusCode.Aborted, $"Concurrent grants kept spending the budget first ({BudgetAttempts} attempts); retry with the same key. "
                    + exception.Message));
            }
            catch when (decidedBy.Length > 0)
            {
                foreach (var employeeId in decidedBy)
                {
                    await grains.GetGrain<ILedgerGrain>(employeeId).DeactivateAsync();
                }

                throw;
            }
        }

        Task<GiveRecognitionResponse> GiveInTransactionAsync() => InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"GiveRecognition:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, GiveRecognitionResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var recipients = new List<EmployeeRecord>();
            foreach (var (id, index) in request.RecipientIds.Select((id, index) => (id, index)))
            {
                var recipient = await DirectoryCopy.FindAsync(connection, transaction, id, ct);
                if (recipient is not { Active: true })
                {
                    throw RpcErrors.InvalidArgument("Unknown recipient.", ($"recipient_ids[{index}]", $"{id} is not an active employee."));
                }

                recipients.Add(recipient);
            }

            // Derived from the key: a retry after a failure addresses the recipients' ledgers with the same observation ids.
            var recognitionId = RecognitionId(caller.Subject, request.IdempotencyKey);
            var now = time.GetUtcNow();
            var period = rules.PeriodOf(now);
            if (rules.PeerAllowance == 0 || pointsEach == 0)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The incentive rules give peers nothing to give."));
            }

            // Refused before any ledger decides anything when even a full grant to every recipient would not fit; afterwards only what
            // the recipients are granted (or held for approval) counts against the allowance.
            var remaining = Math.Max(0, rules.PeerAllowance - await PeerAllowance.LockAndReadGivenAsync(connection, transaction, caller.Subject, period, ct));
            var most = pointsEach * recipients.Count;
            if (most > remaining)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"This recognition needs up to {most} points; {remaining} are left of this period's allowance of {rules.PeerAllowance}. Nothing was spent."));
            }

            var response = new GiveRecognitionResponse { RecognitionId = recognitionId };
            var evaluations = recipients.Select(recipient => new Evaluation(
                new Observation($"{recognitionId}:{recipient.EmployeeId}", recipient.EmployeeId, behaviour.BehaviourId, behaviour.Version,
                    Polarity.Desired, ObservationSource.Peer, caller.Subject, now, recipient.OrgUnitId, Message: request.Message, Public: request.Public),
                behaviour.Name, recognitionId)).ToList();
            decidedBy = [.. recipients.Select(r => r.EmployeeId)];
            response.Rewards.AddRange(await pipeline.EvaluateAsync(connection, transaction, evaluations, rules, ct));
            response.AllowanceRemaining = remaining - response.Rewards
                .Where(r => r.Status is RewardStatus.Granted or RewardStatus.PendingApproval or RewardStatus.Flagged).Sum(r => r.Points);

            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    public override async Task<GetEmployeeFeedResponse> GetEmployeeFeed(GetEmployeeFeedRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        if (request.EmployeeId.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The employee is required.", ("employee_id", "The employee id is required."));
        }

        await using var connection = await database.OpenAsync(ct);
        var employee = await DirectoryCopy.FindAsync(connection, null, request.EmployeeId, ct);
        if (!Access.MayReadFeed(caller, request.EmployeeId, employee?.ManagerId))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the employee, their manager and hr see this feed."));
        }

        var before = request.Before?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue;
        var rewards = await RewardStore.QueryAsync(connection,
            "employee_id = $1 AND status <> 4 AND occurred_at < $2 ORDER BY occurred_at DESC LIMIT $3", ct, request.EmployeeId, before, Limit(request.Limit));
        var rules = await rulesStore.CurrentAsync(ct);
        var period = rules.PeriodOf(time.GetUtcNow());
        var response = new GetEmployeeFeedResponse { Period = period };
        response.Rewards.AddRange(rewards.Select(r => r.Reward));
        await using (var command = connection.Command(null, """
            SELECT badge_id, name, awarded_at FROM badges_earned WHERE employee_id = $1 ORDER BY awarded_at;
            """, request.EmployeeId))
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                response.Badges.Add(new EarnedBadge
                {
                    BadgeId = reader.GetString(0),
                    Name = reader.GetString(1),
                    AwardedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(2)),
                });
            }
        }

        await using (var sum = connection.Command(null,
            "SELECT coalesce(sum(points), 0)::int FROM outcomes WHERE employee_id = $1 AND period = $2 AND status = 0", request.EmployeeId, period))
        {
            response.PeriodPoints = (int)(await sum.ExecuteScalarAsync(ct))!;
        }

        response.PeerAllowance = rules.PeerAllowance;
        response.PeerAllowanceRemaining = Math.Max(0, rules.PeerAllowance - await PeerAllowance.GivenAsync(connection, null, request.EmployeeId, period, ct));

        return response;
    }

    public override async Task<GetPublicFeedResponse> GetPublicFeed(GetPublicFeedRequest request, ServerCallContext context)
    {
        context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var before = request.Before?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue;
        var rewards = await RewardStore.QueryAsync(connection,
            "public AND status = 0 AND occurred_at < $1 AND ($2 = '' OR org_unit_id = $2) ORDER BY occurred_at DESC LIMIT $3", context.CancellationToken,
            before, Sql.Text(request.OrgUnitId), Limit(request.Limit));
        var response = new GetPublicFeedResponse();
        response.Rewards.AddRange(rewards.Select(r => r.Reward));
        return response;
    }

    public override async Task<ListReviewQueueResponse> ListReviewQueue(ListReviewQueueRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        var rewards = caller.IsInRole(Roles.Hr)
            ? await RewardStore.QueryAsync(connection, "status IN (1, 2) ORDER BY occurred_at LIMIT $1", context.CancellationToken, Limit(request.Limit))
            : await RewardStore.QueryAsync(connection, """
                status = 1 AND giver_id <> $1 AND employee_id IN (SELECT employee_id FROM employees WHERE manager_id = $1) ORDER BY occurred_at LIMIT $2
                """, context.CancellationToken, caller.Subject, Limit(request.Limit));
        var response = new ListReviewQueueResponse();
        response.Rewards.AddRange(rewards.Select(r => r.Reward));
        return response;
    }

    public override async Task<ReviewRewardResponse> ReviewReward(ReviewRewardRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (request.RewardId.Length == 0)
        {
            violations.Add(("reward_id", "The reward id is required."));
        }

        if (request.Decision == ReviewDecision.Unspecified)
        {
            violations.Add(("decision", "APPROVE or REJECT is required."));
        }

        if (request.Note.Length > 1000)
        {
            violations.Add(("note", "At most 1000 characters."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        var rules = await rulesStore.CurrentAsync(ct);
        var ledgerTouched = "";
        try
        {
            return await ReviewInTransactionAsync();
        }
        catch when (ledgerTouched.Length > 0)
        {
            // The ledger took the decision but the database did not: let its next activation fold what the database holds.
            await grains.GetGrain<ILedgerGrain>(ledgerTouched).DeactivateAsync();
            throw;
        }

        Task<ReviewRewardResponse> ReviewInTransactionAsync() => InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"ReviewReward:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, ReviewRewardResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var stored = await RewardStore.FindAsync(connection, transaction, "reward_id", request.RewardId, forUpdate: true, ct);
            var employee = stored is null ? null : await DirectoryCopy.FindAsync(connection, transaction, stored.Reward.EmployeeId, ct);
            if (stored is null || !Access.MayReview(caller, stored.Verdict, stored.Reward.EmployeeId, stored.Reward.GiverId, employee?.ManagerId))
            {
                // The same answer for "no such reward" and "not yours to review": reviewers learn nothing about others' rewards.
                throw stored is not null && stored.Verdict is not (Verdict.PendingApproval or Verdict.Flagged) && caller.IsInRole(Roles.Hr)
                    ? new RpcException(new Status(StatusCode.FailedPrecondition, $"The reward is {stored.Reward.Status}, not waiting for review."))
                    : new RpcException(new Status(StatusCode.PermissionDenied, "You may not review this reward."));
            }

            var reward = stored.Reward;
            var ledger = grains.GetGrain<ILedgerGrain>(reward.EmployeeId);
            var before = JsonFormatter.Default.Format(reward);
            ledgerTouched = reward.EmployeeId;
            if (request.Decision == ReviewDecision.Approve)
            {
                var decision = await ledger.ApproveAsync(reward.ObservationId, reward.Period, reward.Points, rules);
                await Review(connection, transaction, reward.RewardId, Verdict.Granted, caller.Subject, request.Note, ct);
                reward.Status = RewardStatus.Granted;
                await pipeline.PublishGrantAsync(connection, transaction, reward, 0, "", stored.RulesVersion, decision.BadgesEarned, ct);
            }
            else
            {
                await ledger.RejectAsync(reward.ObservationId, reward.Period, reward.Points, stored.RulesVersion);
                await BudgetStore.RefundAsync(connection, transaction, stored.BudgetUnitId, reward.Period, reward.Points, ct);
                await Review(connection, transaction, reward.RewardId, Verdict.Rejected, caller.Subject, request.Note, ct);
                reward.Status = RewardStatus.Rejected;
            }

            reward.ReviewedBy = caller.Subject;
            reward.ReviewNote = request.Note;
            await outbox.EnqueueAsync(connection, transaction, reward.EmployeeId, new RewardReviewed
            {
                RewardId = reward.RewardId,
                EmployeeId = reward.EmployeeId,
                Approved = reward.Status == RewardStatus.Granted,
                ReviewedBy = caller.Subject,
                ReviewedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            }, ct);
            await RewardPipeline.NotifyFeedsAsync(connection, transaction, [reward], ct);
            await AuditLog.AppendAsync(connection, transaction, "reward", reward.RewardId, caller.Subject, before, JsonFormatter.Default.Format(reward), ct);
            var response = new ReviewRewardResponse { Reward = reward };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    /// <summary>
    /// Takes back a granted reward (hr): in one transaction the outcome becomes revoked, the budget that paid for it is
    /// credited back, badges the employee's lifetime points no longer reach are withdrawn, RewardRevoked goes to the
    /// outbox and the audit trail records before and after; the employee's ledger releases the points in the same turn
    /// order as every other decision (and is read again from the database if the transaction fails after it did).
    /// </summary>
    public override async Task<RevokeRewardResponse> RevokeReward(RevokeRewardRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (string.IsNullOrWhiteSpace(request.RewardId) || request.RewardId.Length > 200)
        {
            violations.Add(("reward_id", "The reward id (at most 200 characters) is required."));
        }

        if (string.IsNullOrWhiteSpace(request.Reason) || request.Reason.Length > MaxReasonLength)
        {
            violations.Add(("reason", $"A reason of 1 to {MaxReasonLength} characters is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        var ledgerTouched = "";
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            var scope = $"RevokeReward:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, RevokeRewardResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var stored = await RewardStore.FindAsync(connection, transaction, "reward_id", request.RewardId, forUpdate: true, ct)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"No reward {request.RewardId}."));
            if (stored.Verdict != Verdict.Granted)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    stored.Verdict == Verdict.CallOut ? "A call-out is not a reward." : $"Only a granted reward can be revoked; this one is {stored.Reward.Status}."));
            }

            var reward = stored.Reward;
            var before = JsonFormatter.Default.Format(reward);
            var now = Sql.AsStored(time.GetUtcNow());
            var reason = request.Reason.Trim();
            await using (var update = connection.Command(transaction,
                "UPDATE outcomes SET status = $2, revoked_by = $3, revoke_reason = $4, revoked_at = $5 WHERE reward_id = $1",
                reward.RewardId, (short)Verdict.Revoked, caller.Subject, reason, now))
            {
                await update.ExecuteNonQueryAsync(ct);
            }

            await BudgetStore.RefundAsync(connection, transaction, stored.BudgetUnitId, reward.Period, reward.Points, ct);
            var withdrawn = await WithdrawBadgesAsync(connection, transaction, reward.EmployeeId, ct);
            reward.Status = RewardStatus.Revoked;
            reward.RevokedBy = caller.Subject;
            reward.RevokeReason = reason;
            reward.RevokedAt = Timestamp.FromDateTimeOffset(now);
            var revoked = new RewardRevoked
            {
                RewardId = reward.RewardId,
                EmployeeId = reward.EmployeeId,
                Points = reward.Points,
                Reason = reason,
                RevokedBy = caller.Subject,
                RevokedAt = reward.RevokedAt,
                ObservationId = reward.ObservationId,
                Period = reward.Period,
                OrgUnitId = reward.OrgUnitId,
            };
            revoked.WithdrawnBadgeIds.AddRange(withdrawn);
            await outbox.EnqueueAsync(connection, transaction, reward.EmployeeId, revoked, ct);
            await RewardPipeline.NotifyFeedsAsync(connection, transaction, [reward], ct);
            await AuditLog.AppendAsync(connection, transaction, "reward", reward.RewardId, caller.Subject, before, JsonFormatter.Default.Format(reward), ct);
            var response = new RevokeRewardResponse { Reward = reward };
            response.WithdrawnBadgeIds.AddRange(withdrawn);
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);

            // Last before the commit, while the reward row is locked: an activation folding now still reads it as granted.
            ledgerTouched = reward.EmployeeId;
            await grains.GetGrain<ILedgerGrain>(reward.EmployeeId).RevokeAsync(reward.ObservationId, reward.Period, reward.Points, stored.RulesVersion, [.. withdrawn]);
            await transaction.CommitAsync(ct);
            return response;
        }
        catch when (ledgerTouched.Length > 0)
        {
            // The ledger released points the database still holds: let its next activation fold them again.
            await grains.GetGrain<ILedgerGrain>(ledgerTouched).DeactivateAsync();
            throw;
        }
    }

    /// <summary>Withdraws the employee's badges whose threshold (as awarded) their granted lifetime points no longer reach; their ids.</summary>
    private static async Task<List<string>> WithdrawBadgesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string employeeId,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            DELETE FROM badges_earned WHERE employee_id = $1
              AND threshold > (SELECT coalesce(sum(points), 0) FROM outcomes WHERE employee_id = $1 AND status = 0)
            RETURNING badge_id
            """, employeeId);
        var withdrawn = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            withdrawn.Add(reader.GetString(0));
        }

        withdrawn.Sort(StringComparer.Ordinal);
        return withdrawn;
    }

    /// <summary>
    /// Streams each reward of the employee's feed stored or reviewed from now on, until the caller cancels. The response
    /// headers are sent once the watch is registered: whatever commits after they arrive reaches the stream.
    /// </summary>
    public override async Task WatchEmployeeFeed(WatchEmployeeFeedRequest request, IServerStreamWriter<WatchEmployeeFeedResponse> responseStream, ServerCallContext context)
    {
        var caller = context.Caller();
        if (request.EmployeeId.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The employee is required.", ("employee_id", "The employee id is required."));
        }

        var ct = context.CancellationToken;
        await using (var connection = await database.OpenAsync(ct))
        {
            var employee = await DirectoryCopy.FindAsync(connection, null, request.EmployeeId, ct);
            if (!Access.MayReadFeed(caller, request.EmployeeId, employee?.ManagerId))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the employee, their manager and hr watch this feed."));
            }
        }

        using var watch = await feeds.WatchAsync(request.EmployeeId, ct);
        if (!context.GetHttpContext().Response.HasStarted)
        {
            await context.WriteResponseHeadersAsync([]);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping, watch.Ended);
        try
        {
            await foreach (var rewardId in watch.Rewards.ReadAllAsync(stop.Token))
            {
                StoredReward? stored;
                await using (var connection = await database.OpenAsync(stop.Token))
                {
                    stored = await RewardStore.FindAsync(connection, null, "reward_id", rewardId, forUpdate: false, stop.Token);
                }

                if (stored is { Verdict: not Verdict.CallOut } && string.Equals(stored.Reward.EmployeeId, request.EmployeeId, StringComparison.Ordinal))
                {
                    var write = responseStream.WriteAsync(new WatchEmployeeFeedResponse { Reward = stored.Reward });
                    try
                    {
                        await write.WaitAsync(stop.Token);
                    }
                    catch (OperationCanceledException) when (!write.IsCompleted && !ct.IsCancellationRequested)
                    {
                        // The watch ended while the client was not reading: the status can only follow this write. A client
                        // that reads again soon gets it; one that does not has its stream reset.
                        if (await Task.WhenAny(write, Task.Delay(StalledWriteGrace, ct)) != write)
                        {
                            context.GetHttpContext().Abort();
                        }

                        throw;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && (watch.EndedWith is not null || lifetime.ApplicationStopping.IsCancellationRequested))
        {
            // Ended by the hub or by shutdown: answered below.
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested && watch.EndedWith is null)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The service is shutting down; read the feed again and watch again."));
        }

        throw watch.EndedWith ?? new RpcException(new Status(StatusCode.Unavailable, "The live feed ended; read the feed again and watch again."));
    }

    /// <summary>Who is recognised in a period, per org unit and over everyone (units below the minimum group size are left out).</summary>
    public override async Task<GetRecognitionEquityResponse> GetRecognitionEquity(GetRecognitionEquityRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var rules = await rulesStore.CurrentAsync(ct);
        var period = PeriodOrCurrent(request.Period, rules);
        List<EmployeePoints> people;
        List<SourceGrants> grants;
        await using (var connection = await database.OpenAsync(ct))
        {
            people = await RecognitionQueries.PopulationAsync(connection, period, ct);
            grants = await RecognitionQueries.GrantsBySourceAsync(connection, period, ct);
        }

        var report = RecognitionEquity.Compute(people, rules.MinimumGroupSize);
        var split = RecognitionEquity.SplitBySource(people, grants, rules.MinimumGroupSize);
        var response = new GetRecognitionEquityResponse { Period = period, RecognisedShare = report.RecognisedShare, PointsGini = report.PointsGini };
        response.Sources.AddRange(split.Overall.Select(ToProto));
        response.Units.AddRange(report.Units.Select(u =>
        {
            var unit = new UnitRecognition
            {
                OrgUnitId = u.OrgUnitId,
                Employees = u.Employees,
                RecognisedEmployees = u.RecognisedEmployees,
                Points = u.Points,
                RecognisedShare = u.RecognisedShare,
                PointsPerEmployee = u.PointsPerEmployee,
            };
            unit.Sources.AddRange(split.ByUnit.GetValueOrDefault(u.OrgUnitId, []).Select(ToProto));
            return unit;
        }));
        return response;

        static Transformation.Incentives.V1.SourceShare ToProto(RecognitionBySource s) => new()
        {
            Source = s.Source,
            Points = s.Points,
            Rewards = s.Rewards,
            PointsShare = s.PointsShare,
            RewardsShare = s.RewardsShare,
        };
    }

    /// <summary>The most recognised people of a period, by public granted points; FAILED_PRECONDITION where the deployment has not switched leaderboards on.</summary>
    public override async Task<GetLeaderboardResponse> GetLeaderboard(GetLeaderboardRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.Limit is < 0 or > MaxLeaderboardSize)
        {
            throw RpcErrors.InvalidArgument("The limit is out of range.", ("limit", $"0 (= {DefaultLeaderboardSize}) to {MaxLeaderboardSize}."));
        }

        if (!System.Enum.IsDefined(request.Mode))
        {
            throw RpcErrors.InvalidArgument("Unknown leaderboard mode.", ("mode", "LEADERBOARD_MODE_PEOPLE or LEADERBOARD_MODE_TEAMS."));
        }

        if (!(options.Value.LeaderboardEnabled ?? environment.IsDevelopment()))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "Leaderboards are switched off in this deployment (Incentives:LeaderboardEnabled)."));
        }

        var rules = await rulesStore.CurrentAsync(ct);
        var period = PeriodOrCurrent(request.Period, rules);
        var limit = request.Limit == 0 ? DefaultLeaderboardSize : request.Limit;
        await using var connection = await database.OpenAsync(ct);
        var response = new GetLeaderboardResponse { Period = period, MinimumGroupSize = rules.MinimumGroupSize };
        if (request.Mode == LeaderboardMode.Teams)
        {
            var (shown, suppressed) = Leaderboards.Teams(await RecognitionQueries.TeamsAsync(connection, period, request.OrgUnitId, ct), rules.MinimumGroupSize, limit);
            response.SuppressedTeams = suppressed;
            response.Teams.AddRange(shown.Select(t => new TeamLeaderboardEntry
            {
                OrgUnitId = t.OrgUnitId,
                Name = t.Name,
                Members = t.Members,
                Points = t.Points,
                Rewards = t.Rewards,
            }));
            return response;
        }

        response.Entries.AddRange(await RecognitionQueries.LeaderboardAsync(connection, period, request.OrgUnitId, limit, ct));
        return response;
    }

    /// <summary>The caller opts themselves out of leaderboards, or back in (audited; a retry answers with the first result).</summary>
    public override async Task<SetLeaderboardPreferenceResponse> SetLeaderboardPreference(SetLeaderboardPreferenceRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"SetLeaderboardPreference:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, SetLeaderboardPreferenceResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var before = await RecognitionQueries.PreferenceAsync(connection, transaction, caller.Subject, ct);
            var now = Sql.AsStored(time.GetUtcNow());
            var after = await RecognitionQueries.SetPreferenceAsync(connection, transaction, caller.Subject, request.OptedOut, now, ct);
            await AuditLog.AppendAsync(connection, transaction, "leaderboard_preference", caller.Subject, caller.Subject,
                before.ChangedAt is null ? null : JsonFormatter.Default.Format(before), JsonFormatter.Default.Format(after), ct);
            var response = new SetLeaderboardPreferenceResponse { Preference = after };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    public override async Task<GetLeaderboardPreferenceResponse> GetLeaderboardPreference(GetLeaderboardPreferenceRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        await using var connection = await database.OpenAsync(context.CancellationToken);
        return new GetLeaderboardPreferenceResponse { Preference = await RecognitionQueries.PreferenceAsync(connection, null, caller.Subject, context.CancellationToken) };
    }

    // ---- Call-outs ----

    public override async Task<GetCallOutReportResponse> GetCallOutReport(GetCallOutReportRequest request, ServerCallContext context)
    {
        if (!Period.IsValidKey(request.Period))
        {
            throw RpcErrors.InvalidArgument("A period is required.", ("period", "A period such as 2026-11 is required."));
        }

        var rules = await rulesStore.CurrentAsync(context.CancellationToken);
        await using var connection = await database.OpenAsync(context.CancellationToken);
        await using var command = connection.Command(null, """
            SELECT behaviour_id, org_unit_id, count(*)::int, count(DISTINCT employee_id)::int FROM outcomes
            WHERE status = 4 AND period = $1 GROUP BY behaviour_id, org_unit_id ORDER BY behaviour_id, org_unit_id
            """, request.Period);
        var groups = new List<CallOutGroup>();
        await using (var reader = await command.ExecuteReaderAsync(context.CancellationToken))
        {
            while (await reader.ReadAsync(context.CancellationToken))
            {
                groups.Add(new CallOutGroup(reader.GetString(0), reader.GetString(1), request.Period, reader.GetInt32(2), reader.GetInt32(3)));
            }
        }

        var (reported, suppressed) = CallOutReport.Apply(groups, rules.MinimumGroupSize);
        var response = new GetCallOutReportResponse { MinimumGroupSize = rules.MinimumGroupSize, SuppressedGroups = suppressed };
        response.Counts.AddRange(reported.Select(g => new CallOutCount
        {
            BehaviourId = g.BehaviourId,
            OrgUnitId = g.OrgUnitId,
            Period = g.Period,
            CallOuts = g.CallOuts,
            Employees = g.Employees,
        }));
        return response;
    }

    public override async Task<ListCallOutsResponse> ListCallOuts(ListCallOutsRequest request, ServerCallContext context)
    {
        await using var connection = await database.OpenAsync(context.CancellationToken);
        await using var command = connection.Command(null, """
            SELECT observation_id, employee_id, behaviour_id, source, giver_id, org_unit_id, period, evidence, observed_at FROM outcomes
            WHERE status = 4 AND ($1 = '' OR period = $1) ORDER BY observed_at DESC LIMIT $2
            """, Sql.Text(request.Period), Limit(request.Limit));
        var response = new ListCallOutsResponse();
        await using var reader = await command.ExecuteReaderAsync(context.CancellationToken);
        while (await reader.ReadAsync(context.CancellationToken))
        {
            response.CallOuts.Add(new CallOut
            {
                ObservationId = reader.GetString(0),
                EmployeeId = reader.GetString(1),
                BehaviourId = reader.GetString(2),
                Source = (ObservationSource)reader.GetInt32(3),
                ObserverId = reader.GetString(4),
                OrgUnitId = reader.GetString(5),
                Period = reader.GetString(6),
                Evidence = reader.GetString(7),
                ObservedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(8)),
            });
        }

        return response;
    }

    // ---- Helpers ----

    private static async Task Review(NpgsqlConnection connection, NpgsqlTransaction transaction, string rewardId, Verdict verdict, string reviewer, string note,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            "UPDATE outcomes SET status = $2, reviewed_by = $3, review_note = $4, flags = flags WHERE reward_id = $1", rewardId, (short)verdict, reviewer, note);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string RecognitionId(string giver, string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{giver}\n{key}")).AsSpan(0, 16));

    private BehaviourSnapshot Snapshot(string id, int version, BehaviourDraft draft, bool retired, Caller caller)
    {
        var snapshot = new BehaviourSnapshot
        {
            BehaviourId = id,
            Version = version,
            Name = draft.Name.Trim(),
            Description = draft.Description,
            Polarity = draft.Polarity,
            Retired = retired,
            ChangedBy = caller.Subject,
            ChangedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        };
        snapshot.Examples.AddRange(draft.Examples);
        snapshot.Dimensions.AddRange(draft.Dimensions);
        return snapshot;
    }

    private async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken, Action? afterCommit = null)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        afterCommit?.Invoke();
        return result;
    }

    /// <summary>The requested period key, or the current period of the rules when it is empty; INVALID_ARGUMENT for a malformed key.</summary>
    private string PeriodOrCurrent(string requested, RuleSet rules)
    {
        if (requested.Length == 0)
        {
            return rules.PeriodOf(time.GetUtcNow());
        }

        return Period.IsValidKey(requested)
            ? requested
            : throw RpcErrors.InvalidArgument("The period is invalid.", ("period", "A period such as 2026-11, 2026-Q4 or 2026-W47, or empty for the current one."));
    }

    private static int Limit(int requested) => requested is > 0 and <= MaxPage ? requested : requested > MaxPage ? MaxPage : 50;

    private static void RequireKey(string key, List<(string, string)> violations)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 200)
        {
            violations.Add(("idempotency_key", "An idempotency key of 1 to 200 characters is required."));
        }
    }

    private static void ThrowIfAny(List<(string Field, string Description)> violations)
    {
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument("The request is invalid.", violations);
        }
    }
}
