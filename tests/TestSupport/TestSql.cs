using System.Globalization;
using Npgsql;

namespace Transformation.TestSupport;

/// <summary>Reads a service's database from a test: a count, or a wait until events have travelled and a count is reached.</summary>
public static class TestSql
{
    public static async Task<long> ScalarAsync(string connectionString, string sql, CancellationToken cancellationToken, object? parameter = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue("p", parameter);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
    }

    /// <summary>Polls until the query counts <paramref name="expected"/>; fails after 30 s naming the query and the last count.</summary>
    public static async Task WaitUntilAsync(string connectionString, string sql, long expected, CancellationToken cancellationToken, object? parameter = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var actual = await ScalarAsync(connectionString, sql, cancellationToken, parameter);
            if (actual == expected)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{sql}' counted {actual}, expected {expected}.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
