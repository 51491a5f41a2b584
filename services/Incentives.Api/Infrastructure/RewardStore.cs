using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>A reward row with what the service needs beyond the proto (its budget charge, for refunds on rejection).</summary>
public sealed record StoredReward(Reward Reward, Verdict Verdict, string BudgetUnitId, int RulesVersion, string RecognitionId);

/// <summary>Outcome rows: one per observation (the observation id is the key), queried for feeds, the review queue and call-outs.</summary>
public static class RewardStore
{
    public const string Columns = """
        reward_id, observation_id, employee_id, behaviour_id, behaviour_name, source, giver_id, points, status, decline_reason, period,
        org_unit_id, public, message, flags, occurred_at, reviewed_by, review_note, budget_unit_id, rules_version, recognition_id,
        revoked_by, revoke_reason, revoked_at
        """;

    public static StoredReward Read(NpgsqlDataReader reader)
    {
        var verdict = (Verdict)reader.GetInt16(8);
        var reward = new Reward
        {
            RewardId = reader.GetString(0),
            ObservationId = reader.GetString(1),
            EmployeeId = reader.GetString(2),
            BehaviourId = reader.GetString(3),
            BehaviourName = reader.GetString(4),
            Source = (ObservationSource)reader.GetInt32(5),
            GiverId = reader.GetString(6),
            Points = reader.GetInt32(7),
            Status = ToStatus(verdict),
            DeclineReason = (DeclineReason)reader.GetInt16(9),
            Period = reader.GetString(10),
            OrgUnitId = reader.GetString(11),
            Public = reader.GetBoolean(12),
            Message = reader.GetString(13),
            OccurredAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(15)),
            ReviewedBy = reader.GetString(16),
            ReviewNote = reader.GetString(17),
        };
        reward.Flags.AddRange(reader.GetFieldValue<string[]>(14));
        if (!reader.IsDBNull(23))
        {
            reward.RevokedBy = reader.GetString(21);
            reward.RevokeReason = reader.GetString(22);
            reward.RevokedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(23));
        }

        return new StoredReward(reward, verdict, reader.GetString(18), reader.GetInt32(19), reader.GetString(20));
    }

    public static RewardStatus ToStatus(Verdict verdict) => verdict switch
    {
        Verdict.Granted => RewardStatus.Granted,
        Verdict.PendingApproval => RewardStatus.PendingApproval,
        Verdict.Flagged => RewardStatus.Flagged,
        Verdict.Declined => RewardStatus.Declined,
        Verdict.Rejected => RewardStatus.Rejected,
        Verdict.Revoked => RewardStatus.Revoked,
        _ => RewardStatus.Unspecified,
    };

    public static async Task<StoredReward?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string column, string value, bool forUpdate,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            $"SELECT {Columns} FROM outcomes WHERE {column} = $1{(forUpdate ? " FOR UPDATE" : "")}", value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public static async Task<IReadOnlyList<StoredReward>> QueryAsync(NpgsqlConnection connection, string where, CancellationToken cancellationToken,
        params object?[] parameters)
    {
        await using var command = connection.Command(null, $"SELECT {Columns} FROM outcomes WHERE {where}", parameters);
        var list = new List<StoredReward>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(Read(reader));
        }

        return list;
    }
}
