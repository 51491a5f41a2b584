using Npgsql;

namespace Transformation.Initiatives.Api.Infrastructure;

internal static class Sql
{
    public static NpgsqlCommand Command(this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params object?[] parameters)
    {
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

    public static NpgsqlParameter Jsonb(string? json) =>
        new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb, Value = (object?)json ?? DBNull.Value };

    public static NpgsqlParameter Text(string value) => new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = value };

    public static NpgsqlParameter TextArray(IEnumerable<string> values) =>
        new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Value = values.ToArray() };
}
