using Npgsql;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// What a giver has given of their peer allowance in a period: the points their recognitions' outcomes hold (granted, or
/// held for approval); a declined recipient costs nothing, and a rejected or revoked reward gives its points back. It is
/// read from committed rows only, so a recognition that fails spends nothing, and no process keeps a copy to go stale.
/// </summary>
public static class PeerAllowance
{
    private const string GivenSql = """
        SELECT coalesce(sum(points), 0)::int FROM outcomes
        WHERE giver_id = $1 AND source = 2 AND recognition_id <> '' AND period = $2 AND status IN (0, 1, 2)
        """;

    /// <summary>
    /// Locks the giver's allowance until <paramref name="transaction"/> ends (concurrent recognitions by one giver queue
    /// here, so two cannot both spend the last points), then reads what they have given.
    /// </summary>
    public static async Task<int> LockAndReadGivenAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string giverId, string period,
        CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(transaction, "SELECT pg_advisory_xact_lock(hashtextextended('peer-allowance:' || $1, 0))", cancellationToken, giverId);
        return await GivenAsync(connection, transaction, giverId, period, cancellationToken);
    }

    public static async Task<int> GivenAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string giverId, string period,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, GivenSql, giverId, period);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
