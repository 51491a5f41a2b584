using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Incentives.Api.Grpc;

/// <summary>The reward catalogue: hr's rewards, employees' redemptions (decided in their ledger grains), reviews and the export.</summary>
public sealed partial class IncentivesService
{
    public override async Task<DefineCatalogueRewardResponse> DefineCatalogueReward(DefineCatalogueRewardRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = CatalogueRewards.Validate(request.Reward).ToList();
        RequireKey(request.IdempotencyKey, violations);
        if (request.CatalogueRewardId.Length > 0 && !Behaviours.IsValidId(request.CatalogueRewardId))
        {
            violations.Add(("catalogue_reward_id", "Lower-case letters, digits and '-', at most 63 characters."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"DefineCatalogueReward:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, DefineCatalogueRewardResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var reward = CatalogueReward(request.CatalogueRewardId.Length > 0 ? request.CatalogueRewardId : Guid.CreateVersion7().ToString("n"), 1,
                request.Reward, withdrawn: false, caller);
            if (!await CatalogueRewardStore.InsertAsync(connection, transaction, reward, ct))
            {
                throw new RpcException(new Status(StatusCode.AlreadyExists, $"The reward {reward.CatalogueRewardId} exists already."));
            }

            await AuditLog.AppendAsync(connection, transaction, "catalogue_reward", reward.CatalogueRewardId, caller.Subject, null, JsonFormatter.Default.Format(reward), ct);
            var response = new DefineCatalogueRewardResponse { Reward = reward };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    public override async Task<ReviseCatalogueRewardResponse> ReviseCatalogueReward(ReviseCatalogueRewardRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = CatalogueRewards.Validate(request.Reward).ToList();
        RequireKey(request.IdempotencyKey, violations);
        if (request.CatalogueRewardId.Length == 0)
        {
            violations.Add(("catalogue_reward_id", "The reward id is required."));
        }

        if (request.ExpectedVersion <= 0)
        {
            violations.Add(("expected_version", "The version the change is based on is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        return await InTransactionAsync(async (connection, transaction) =>
        {
            var scope = $"ReviseCatalogueReward:{caller.Subject}";
            if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, ReviseCatalogueRewardResponse.Parser, ct) is { } first)
            {
                return first;
            }

            var current = await CatalogueRewardStore.GetAsync(connection, transaction, request.CatalogueRewardId, forUpdate: true, ct)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"No reward {request.CatalogueRewardId} in the catalogue."));
            if (current.Version != request.ExpectedVersion)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The reward is at version {current.Version}, not {request.ExpectedVersion}."));
            }

            var reward = CatalogueReward(current.CatalogueRewardId, current.Version + 1, request.Reward, request.Withdrawn, caller);
            if (!await CatalogueRewardStore.UpdateAsync(connection, transaction, reward, ct))
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The reward changed concurrently; read it again."));
            }

            await AuditLog.AppendAsync(connection, transaction, "catalogue_reward", reward.CatalogueRewardId, caller.Subject, JsonFormatter.Default.Format(current),
                JsonFormatter.Default.Format(reward), ct);
            var response = new ReviseCatalogueRewardResponse { Reward = reward };
            await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, ct);
            return response;
        }, ct);
    }

    public override async Task<ListCatalogueRewardsResponse> ListCatalogueRewards(ListCatalogueRewardsRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var response = new ListCatalogueRewardsResponse();
        if (caller.IsInRole(Roles.Hr))
        {
            response.Rewards.AddRange(await CatalogueRewardStore.ListAsync(connection, request.IncludeWithdrawn, ct));
        }
        else
        {
            var employee = await DirectoryCopy.FindAsync(connection, null, caller.Subject, ct);
            response.Rewards.AddRange(await CatalogueRewardStore.ListRedeemableAsync(connection, employee?.OrgUnitId ?? "", ct));
        }

        return response;
    }

    public override async Task<GetPointsBalanceResponse> GetPointsBalance(GetPointsBalanceRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        var employeeId = request.EmployeeId.Length == 0 ? caller.Subject : request.EmployeeId;
        await using var connection = await database.OpenAsync(ct);
        var employee = await DirectoryCopy.FindAsync(connection, null, employeeId, ct);
        if (!Access.MayReadFeed(caller, employeeId, employee?.ManagerId))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the employee, their manager and hr see this balance."));
        }

        var balance = await Redemptions.BalanceAsync(connection, null, employeeId, ct);
        return new GetPointsBalanceResponse
        {
            EmployeeId = employeeId,
            Balance = balance.Balance,
            Granted = balance.Granted,
            Held = balance.Held,
            Spent = balance.Spent,
        };
    }

    /// <summary>The caller's redemption, decided and committed in their ledger grain's turn.</summary>
    public override async Task<RedeemPointsResponse> RedeemPoints(RedeemPointsRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (string.IsNullOrWhiteSpace(request.CatalogueRewardId) || request.CatalogueRewardId.Length > 200)
        {
            violations.Add(("catalogue_reward_id", "The reward id (at most 200 characters) is required."));
        }

        if (request.Quantity is < 0 or > CatalogueRewards.MaxQuantity)
        {
            violations.Add(("quantity", $"From 1 to {CatalogueRewards.MaxQuantity} (0 = 1)."));
        }

        if (request.ExpectedVersion < 0)
        {
            violations.Add(("expected_version", "Must not be negative (0 = the current version)."));
        }

        ThrowIfAny(violations);
        var outcome = await grains.GetGrain<ILedgerGrain>(caller.Subject).RedeemAsync(RedeemCommand.Of(request));
        return outcome.Unwrap(RedeemPointsResponse.Parser);
    }

    public override async Task<ListRedemptionsResponse> ListRedemptions(ListRedemptionsRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var limit = Limit(request.Limit);
        var redemptions = !request.AwaitingMyReview
            ? await Redemptions.QueryAsync(connection, null, "employee_id = $1 ORDER BY requested_at DESC LIMIT $2", ct, caller.Subject, limit)
            : caller.IsInRole(Roles.Hr)
                ? await Redemptions.QueryAsync(connection, null, "status = 1 AND employee_id <> $1 ORDER BY requested_at LIMIT $2", ct, caller.Subject, limit)
                : await Redemptions.QueryAsync(connection, null, """
                    status = 1 AND employee_id <> $1 AND employee_id IN (SELECT employee_id FROM employees WHERE manager_id = $1) ORDER BY requested_at LIMIT $2
                    """, ct, caller.Subject, limit);
        var response = new ListRedemptionsResponse();
        response.Redemptions.AddRange(redemptions);
        return response;
    }

    /// <summary>A held redemption approved or rejected, in the redeemer's ledger grain's turn (a rejection refunds there).</summary>
    public override async Task<ReviewRedemptionResponse> ReviewRedemption(ReviewRedemptionRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        if (string.IsNullOrWhiteSpace(request.RedemptionId) || request.RedemptionId.Length > 200)
        {
            violations.Add(("redemption_id", "The redemption id (at most 200 characters) is required."));
        }

        if (request.Decision is not (ReviewDecision.Approve or ReviewDecision.Reject))
        {
            violations.Add(("decision", "APPROVE or REJECT is required."));
        }

        if (request.Note.Length > MaxReasonLength)
        {
            violations.Add(("note", $"At most {MaxReasonLength} characters."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        string? redeemer;
        await using (var connection = await database.OpenAsync(ct))
        await using (var find = connection.Command(null, "SELECT employee_id FROM redemptions WHERE redemption_id = $1", request.RedemptionId))
        {
            redeemer = (string?)await find.ExecuteScalarAsync(ct);
        }

        if (redeemer is null)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "You may not review this redemption."));
        }

        var outcome = await grains.GetGrain<ILedgerGrain>(redeemer)
            .ReviewRedemptionAsync(ReviewRedemptionCommand.Of(request, caller.Subject, caller.IsInRole(Roles.Hr)));
        return outcome.Unwrap(ReviewRedemptionResponse.Parser);
    }

    public override async Task<ExportRedemptionsResponse> ExportRedemptions(ExportRedemptionsRequest request, ServerCallContext context)
    {
        var from = request.From?.ToDateTimeOffset();
        var to = request.To?.ToDateTimeOffset();
        if (from is not null && to is not null && from >= to)
        {
            throw RpcErrors.InvalidArgument("The range is empty.", ("to", "Must be after from."));
        }

        await using var connection = await database.OpenAsync(context.CancellationToken);
        var export = await Redemptions.ExportAsync(connection, from, to, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"More than {Redemptions.MaxExportRows} fulfilled redemptions in this range; export a shorter one."));
        return new ExportRedemptionsResponse { Csv = export.Csv, Rows = export.Rows };
    }

    private CatalogueReward CatalogueReward(string id, int version, CatalogueRewardDraft draft, bool withdrawn, Caller caller)
    {
        var reward = new CatalogueReward
        {
            CatalogueRewardId = id,
            Version = version,
            Name = draft.Name.Trim(),
            Description = draft.Description,
            PointsCost = draft.PointsCost,
            RequiresApproval = draft.RequiresApproval,
            ApprovalThreshold = draft.ApprovalThreshold,
            Withdrawn = withdrawn,
            ChangedBy = caller.Subject,
            ChangedAt = Timestamp.FromDateTimeOffset(Sql.AsStored(time.GetUtcNow())),
        };
        if (draft.HasStock)
        {
            reward.Stock = draft.Stock;
        }

        reward.EligibleOrgUnitIds.AddRange(draft.EligibleOrgUnitIds);
        return reward;
    }
}
