using Npgsql;
using Transformation.TestSupport;

namespace Transformation.ServerProcesses.FunctionalTests;

public sealed class PostgresDatabaseTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task RowsWrittenAreReadBackFromTheRealServer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(ct);
        await using (var create = new NpgsqlCommand("CREATE TABLE behaviour (id int PRIMARY KEY, name text NOT NULL, doc jsonb)", connection))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        await using (var insert = new NpgsqlCommand("INSERT INTO behaviour VALUES (1, 'Listens to customers', '{\"weight\": 0.4}'), (2, 'Shares credit', null)", connection))
        {
            (await insert.ExecuteNonQueryAsync(ct)).ShouldBe(2);
        }

        await using var query = new NpgsqlCommand("SELECT name, doc->>'weight' FROM behaviour ORDER BY id", connection);
        await using var reader = await query.ExecuteReaderAsync(ct);
        var rows = new List<(string, string?)>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        rows.ShouldBe([("Listens to customers", "0.4"), ("Shares credit", null)]);
    }

    [Fact]
    public async Task TheServerIsPostgreSql15ListeningOnLoopback()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        connection.PostgreSqlVersion.Major.ShouldBe(15);
        database.Server.Host.ShouldBe("127.0.0.1");
    }

    [Fact]
    public async Task EachTestClassGetsADatabaseOfItsOwn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT current_database()", connection);
        var name = (string)(await command.ExecuteScalarAsync(ct))!;

        name.ShouldBe(database.Name);
        name.ShouldStartWith("db_postgresdatabasetests_");
        (await database.Server.DatabaseExistsAsync(name, ct)).ShouldBeTrue();
    }
}
