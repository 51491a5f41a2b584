using Npgsql;
using NpgsqlTypes;

namespace Transformation.Persistence;

/// <summary>Positional-parameter commands ($1, $2, …) without ceremony, and the parameter types Npgsql cannot infer.</summary>
public static class Sql
{
    /// <summary>The time as PostgreSQL keeps it (UTC, whole microseconds): a value answered now equals the one read back later.</summary>
    public static DateTimeOffset AsStored(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % 10), TimeSpan.Zero);

    public static NpgsqlCommand Command(this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params object?[] parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);

        // A lone string[] binds as the params array itself (array covariance), not as one array parameter.
        if (parameters.GetType() != typeof(object[]))
        {
            throw new ArgumentException($"Pass an array value as one parameter with Sql.TextArray(…), not as {parameters.GetType().Name}.", nameof(parameters));
        }

        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter switch
            {
                NpgsqlParameter p => p,
                null => new NpgsqlParameter { Value = DBNull.Value },
                _ => new NpgsqlParameter { Value = parameter },
            });
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken,
        params object?[] parameters)
    {
        await using var command = connection.Command(transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row; default when there is no row or it is NULL.</summary>
    public static async Task<T?> ScalarAsync<T>(this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken,
        params object?[] parameters)
    {
        await using var command = connection.Command(transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken) is T value ? value : default;
    }

    public static NpgsqlParameter Jsonb(string? json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = (object?)json ?? DBNull.Value };

    public static NpgsqlParameter Text(string value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = value };

    public static NpgsqlParameter TextArray(IEnumerable<string> values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = values.ToArray() };
}
