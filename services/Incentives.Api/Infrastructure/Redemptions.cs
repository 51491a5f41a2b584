using System.Globalization;
using CsvHelper;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Npgsql;
using Transformation.Csv;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>A points balance: granted points less those held by redemptions waiting for approval and those spent.</summary>
public sealed record PointsBalance(int Granted, int Held, int Spent)
{
    public int Balance => Granted - Held - Spent;
}

/// <summary>
/// Redemptions of catalogue rewards, each one transaction: the redemption row, the stock, the audit entry, the outbox
/// events and the idempotency record commit together. <see cref="RedeemAsync"/> and <see cref="ReviewAsync"/> run only
/// in a turn of the redeemer's ledger grain (<see cref="Grains.ILedgerGrain.RedeemAsync"/>): the grain's turns are one
/// at a time, so the balance read in one transaction already counts every earlier debit of that employee, committed
/// before the turn ended, and no two debits of one employee can both pass the same balance.
/// </summary>
public sealed class Redemptions(IncentivesDatabase database, Outbox outbox, TimeProvider time)
{
    public const int MaxExportRows = 20_000;

    private const string Columns = """
        redemption_id, employee_id, catalogue_reward_id, reward_name, reward_version, quantity, points, status, requested_at, reviewed_by, review_note,
        fulfilled_at
        """;

    // The granted points are read as committed: a grant that a concurrent transaction has decided but not committed yet
    // cannot be spent before it is (nor can one that then rolls back).
    private const string BalanceSql = """
        SELECT (SELECT coalesce(sum(points), 0) FROM outcomes WHERE employee_id = $1 AND status = 0)::int,
               (SELECT coalesce(sum(points), 0) FROM redemptions WHERE employee_id = $1 AND status = 1)::int,
               (SELECT coalesce(sum(points), 0) FROM redemptions WHERE employee_id = $1 AND status = 2)::int
        """;

    // The stock is taken by one conditional UPDATE in the debit's transaction, not by a grain per reward: redemptions of
    // one reward by different people run in different ledger grains, and the reward's row lock orders them (after waiting
    // for a concurrent redemption's lock, PostgreSQL checks "stock >= quantity" again against the row it committed), so the
    // stock never goes below zero, across instances, and it commits or rolls back with the debit (a grain per reward would
    // need a second, separate commit). The row is locked for an unlimited stock too, which orders a redemption with a
    // concurrent revision or withdrawal of the reward.
    private const string TakeStockSql = $"""
        UPDATE catalogue_rewards SET stock = stock - $2 WHERE catalogue_reward_id = $1 AND NOT withdrawn AND (stock IS NULL OR stock >= $2)
        RETURNING {CatalogueRewardStore.Columns}
        """;

    public static async Task<PointsBalance> BalanceAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string employeeId,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, BalanceSql, employeeId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new PointsBalance(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2));
    }

    /// <summary>The employee redeems a reward (in their ledger grain's turn); a retry with the key answers with the first result.</summary>
    public async Task<RedeemPointsResponse> RedeemAsync(string employeeId, RedeemPointsRequest request, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var scope = $"RedeemPoints:{employeeId}";
        if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, RedeemPointsResponse.Parser, cancellationToken) is { } first)
        {
            return first;
        }

        var employee = await DirectoryCopy.FindAsync(connection, transaction, employeeId, cancellationToken);
        if (employee is { Active: false })
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only active employees redeem points."));
        }

        var quantity = request.Quantity == 0 ? 1 : request.Quantity;
        CatalogueReward reward;
        await using (var take = connection.Command(transaction, TakeStockSql, request.CatalogueRewardId, quantity))
        await using (var reader = await take.ExecuteReaderAsync(cancellationToken))
        {
            reward = await reader.ReadAsync(cancellationToken) ? CatalogueRewardStore.Read(reader) : null!;
        }

        if (reward is null)
        {
            var current = await CatalogueRewardStore.GetAsync(connection, transaction, request.CatalogueRewardId, forUpdate: false, cancellationToken);
            throw current switch
            {
                null => RpcErrors.InvalidArgument("Unknown reward.", ("catalogue_reward_id", $"No reward {request.CatalogueRewardId} in the catalogue.")),
                { Withdrawn: true } => RpcErrors.InvalidArgument("The reward was withdrawn.",
                    ("catalogue_reward_id", $"The reward {request.CatalogueRewardId} was withdrawn from the catalogue.")),
                _ => new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"The reward {current.Name} is out of stock ({current.Stock} left, {quantity} asked for). Nothing was spent.")),
            };
        }

        if (request.ExpectedVersion != 0 && request.ExpectedVersion != reward.Version)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"The reward is at version {reward.Version} (it costs {reward.PointsCost} points now), not {request.ExpectedVersion}; look at it again. Nothing was spent."));
        }

        if (!await CatalogueRewardStore.MayRedeemAsync(connection, transaction, employee?.OrgUnitId ?? "", reward.EligibleOrgUnitIds, cancellationToken))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"The reward {reward.Name} is not offered to your org unit."));
        }

        var points = (int)Math.Min(int.MaxValue, (long)reward.PointsCost * quantity);
        var balance = await BalanceAsync(connection, transaction, employeeId, cancellationToken);
        if (points > balance.Balance)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"This redemption costs {points} points; your balance is {balance.Balance}. Nothing was spent."));
        }

        var now = Timestamp.FromDateTimeOffset(Sql.AsStored(time.GetUtcNow()));
        var held = CatalogueRewards.NeedsApproval(reward.RequiresApproval, reward.ApprovalThreshold, points);
        var redemption = new Redemption
        {
            RedemptionId = Guid.CreateVersion7().ToString(),
            EmployeeId = employeeId,
            CatalogueRewardId = reward.CatalogueRewardId,
            RewardName = reward.Name,
            RewardVersion = reward.Version,
            Quantity = quantity,
            Points = points,
            Status = held ? RedemptionStatus.Held : RedemptionStatus.Fulfilled,
            RequestedAt = now,
            FulfilledAt = held ? null : now,
        };
        await using (var insert = connection.Command(transaction, $"INSERT INTO redemptions ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '', $10)",
            redemption.RedemptionId, employeeId, reward.CatalogueRewardId, reward.Name, reward.Version, quantity, points, (short)redemption.Status,
            now.ToDateTimeOffset(), held ? new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = DBNull.Value } : now.ToDateTimeOffset()))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        // Audited as grants are: the debit, by the employee who made it.
        await AuditLog.AppendAsync(connection, transaction, "redemption", redemption.RedemptionId, employeeId, null, JsonFormatter.Default.Format(redemption),
            cancellationToken);
        var events = new List<OutgoingEvent>
        {
            new(employeeId, new PointsRedeemed
            {
                RedemptionId = redemption.RedemptionId,
                EmployeeId = employeeId,
                CatalogueRewardId = reward.CatalogueRewardId,
                RewardName = reward.Name,
                Quantity = quantity,
                Points = points,
                Held = held,
                RedeemedAt = now,
            }),
        };
        if (!held)
        {
            events.Add(new OutgoingEvent(employeeId, FulfilledEvent(redemption)));
        }

        await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
        var response = new RedeemPointsResponse { Redemption = redemption, Balance = balance.Balance - points };
        await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return response;
    }

    /// <summary>
    /// A reviewer approves (fulfils) or rejects (refunds in full, stock returned) a held redemption of
    /// <paramref name="employeeId"/> (in that employee's ledger grain's turn).
    /// </summary>
    public async Task<ReviewRedemptionResponse> ReviewAsync(string employeeId, string reviewerId, bool reviewerIsHr, ReviewRedemptionRequest request,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var scope = $"ReviewRedemption:{reviewerId}";
        if (await Idempotency.ClaimAsync(connection, transaction, scope, request.IdempotencyKey, request, ReviewRedemptionResponse.Parser, cancellationToken) is { } first)
        {
            return first;
        }

        var redemption = (await QueryAsync(connection, transaction, "redemption_id = $1 AND employee_id = $2 FOR UPDATE", cancellationToken,
            request.RedemptionId, employeeId)).SingleOrDefault();
        var redeemer = redemption is null ? null : await DirectoryCopy.FindAsync(connection, transaction, employeeId, cancellationToken);
        if (redemption is null || !CatalogueRewards.MayReview(reviewerId, reviewerIsHr, employeeId, redeemer?.ManagerId))
        {
            // The same answer for "no such redemption" and "not yours to review".
            throw new RpcException(new Status(StatusCode.PermissionDenied, "You may not review this redemption."));
        }

        if (redemption.Status != RedemptionStatus.Held)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The redemption is {redemption.Status}, not waiting for review."));
        }

        var before = JsonFormatter.Default.Format(redemption);
        var now = Timestamp.FromDateTimeOffset(Sql.AsStored(time.GetUtcNow()));
        var approve = request.Decision == ReviewDecision.Approve;
        redemption.Status = approve ? RedemptionStatus.Fulfilled : RedemptionStatus.Rejected;
        redemption.ReviewedBy = reviewerId;
        redemption.ReviewNote = request.Note;
        redemption.FulfilledAt = approve ? now : null;
        await using (var update = connection.Command(transaction,
            "UPDATE redemptions SET status = $2, reviewed_by = $3, review_note = $4, fulfilled_at = $5 WHERE redemption_id = $1",
            redemption.RedemptionId, (short)redemption.Status, reviewerId, request.Note,
            approve ? now.ToDateTimeOffset() : new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = DBNull.Value }))
        {
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        IMessage message;
        if (approve)
        {
            message = FulfilledEvent(redemption);
        }
        else
        {
            await using (var restock = connection.Command(transaction,
                "UPDATE catalogue_rewards SET stock = stock + $2 WHERE catalogue_reward_id = $1 AND stock IS NOT NULL", redemption.CatalogueRewardId, redemption.Quantity))
            {
                await restock.ExecuteNonQueryAsync(cancellationToken);
            }

            message = new PointsRefunded
            {
                RedemptionId = redemption.RedemptionId,
                EmployeeId = employeeId,
                CatalogueRewardId = redemption.CatalogueRewardId,
                Points = redemption.Points,
                RefundedBy = reviewerId,
                Note = request.Note,
                RefundedAt = now,
            };
        }

        await AuditLog.AppendAsync(connection, transaction, "redemption", redemption.RedemptionId, reviewerId, before, JsonFormatter.Default.Format(redemption),
            cancellationToken);
        await outbox.EnqueueAsync(connection, transaction, employeeId, message, cancellationToken);
        var response = new ReviewRedemptionResponse { Redemption = redemption };
        await Idempotency.CompleteAsync(connection, transaction, scope, request.IdempotencyKey, response, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return response;
    }

    /// <summary>Redemptions matching a SQL condition (with its ORDER BY and LIMIT).</summary>
    public static async Task<List<Redemption>> QueryAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string where,
        CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = connection.Command(transaction, $"SELECT {Columns} FROM redemptions WHERE {where}", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var redemptions = new List<Redemption>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var redemption = new Redemption
            {
                RedemptionId = reader.GetString(0),
                EmployeeId = reader.GetString(1),
                CatalogueRewardId = reader.GetString(2),
                RewardName = reader.GetString(3),
                RewardVersion = reader.GetInt32(4),
                Quantity = reader.GetInt32(5),
                Points = reader.GetInt32(6),
                Status = (RedemptionStatus)reader.GetInt16(7),
                RequestedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(8)),
                ReviewedBy = reader.GetString(9),
                ReviewNote = reader.GetString(10),
            };
            if (!reader.IsDBNull(11))
            {
                redemption.FulfilledAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(11));
            }

            redemptions.Add(redemption);
        }

        return redemptions;
    }

    /// <summary>The fulfilled redemptions in [from, to) as CSV (formulas neutralised), oldest first; null when there are more than <see cref="MaxExportRows"/>.</summary>
    public static async Task<(string Csv, int Rows)?> ExportAsync(NpgsqlConnection connection, DateTimeOffset? from, DateTimeOffset? to,
        CancellationToken cancellationToken)
    {
        var nullTime = new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = DBNull.Value };
        await using var command = connection.Command(null, """
            SELECT r.employee_id, coalesce(e.display_name, ''), r.catalogue_reward_id, r.reward_name, r.quantity, r.points, r.fulfilled_at
            FROM redemptions r LEFT JOIN employees e ON e.employee_id = r.employee_id
            WHERE r.status = 2 AND ($1::timestamptz IS NULL OR r.fulfilled_at >= $1) AND ($2::timestamptz IS NULL OR r.fulfilled_at < $2)
            ORDER BY r.fulfilled_at, r.redemption_id LIMIT $3
            """, from is { } f ? f : nullTime, to is { } t ? t : nullTime.Clone(), MaxExportRows + 1);
        await using var output = new StringWriter(CultureInfo.InvariantCulture);
        var rows = 0;
        await using (var csv = CsvWriter.Create(output, CsvExport.WriterOptions(), leaveOpen: true))
        {
            csv.WriteHeader(["employee_id", "employee_name", "reward_id", "reward", "quantity", "points", "fulfilled_at"]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (++rows > MaxExportRows)
                {
                    return null;
                }

                csv.WriteRecord([reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetInt32(4).ToString(CultureInfo.InvariantCulture), reader.GetInt32(5).ToString(CultureInfo.InvariantCulture),
                    reader.GetFieldValue<DateTimeOffset>(6).ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)]);
            }

            await csv.FlushAsync(cancellationToken);
        }

        return (output.ToString(), rows);
    }

    private static RedemptionFulfilled FulfilledEvent(Redemption redemption) => new()
    {
        RedemptionId = redemption.RedemptionId,
        EmployeeId = redemption.EmployeeId,
        CatalogueRewardId = redemption.CatalogueRewardId,
        RewardName = redemption.RewardName,
        Quantity = redemption.Quantity,
        Points = redemption.Points,
        FulfilledAt = redemption.FulfilledAt,
    };
}
