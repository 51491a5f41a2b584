using Google.Protobuf;
using Npgsql;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// Upgrading a database of the version that queued observations (observation_queue, evaluated by background loops):
/// what it left queued is evaluated once, then the queue is dropped; set-aside observations are kept while there are any.
/// </summary>
public sealed class SchemaUpgradeTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task ObservationsLeftQueuedByTheOldVersionAreEvaluatedOnceAndTheQueueIsDropped()
    {
        var ct = TestContext.Current.CancellationToken;
        var queued = Enumerable.Range(0, 3).Select(i => IncentivesHost.Observed($"e-upgrade-{i}", "helps-customers", ObservationSource.SystemIntegration)).ToList();
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync(ct);
            // The old version's tables, as its schema created them, with three observations not evaluated yet and one set aside.
            await using (var create = new NpgsqlCommand("""
                CREATE TABLE observation_queue (
                    sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    observation bytea       NOT NULL,
                    event_time  timestamptz NOT NULL,
                    attempts    integer     NOT NULL DEFAULT 0,
                    queued_at   timestamptz NOT NULL DEFAULT now());
                CREATE TABLE observation_dead_letters (
                    sequence    bigint      PRIMARY KEY,
                    observation bytea       NOT NULL,
                    event_time  timestamptz NOT NULL,
                    attempts    integer     NOT NULL,
                    error       text        NOT NULL,
                    failed_at   timestamptz NOT NULL DEFAULT now());
                INSERT INTO observation_dead_letters (sequence, observation, event_time, attempts, error) VALUES (1, '\x', now(), 5, 'boom');
                """, connection))
            {
                await create.ExecuteNonQueryAsync(ct);
            }

            foreach (var observation in queued)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO observation_queue (observation, event_time) VALUES ($1, now())", connection);
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = observation.ToByteArray() });
                await insert.ExecuteNonQueryAsync(ct);
            }
        }

        await using (var host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, new TestIdentity(), ct))
        {
            await host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id LIKE 'e-upgrade-%'", 3, ct);
            await host.WaitUntilAsync("SELECT count(*) FROM pg_class WHERE relname = 'observation_queue'", 0, ct);
            (await host.ScalarAsync("SELECT count(DISTINCT observation_id) FROM outcomes WHERE employee_id LIKE 'e-upgrade-%'", ct)).ShouldBe(3);
            (await host.ScalarAsync("SELECT count(*) FROM observation_dead_letters", ct)).ShouldBe(1); // Kept: something to look at.
        }

        // A second start (the migration again) changes nothing; once empty, the set-aside table goes too.
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync(ct);
            await using var empty = new NpgsqlCommand("DELETE FROM observation_dead_letters", connection);
            await empty.ExecuteNonQueryAsync(ct);
        }

        await using (var host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, new TestIdentity(), ct))
        {
            (await host.ScalarAsync("SELECT count(*) FROM pg_class WHERE relname IN ('observation_queue', 'observation_dead_letters')", ct)).ShouldBe(0);
            (await host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id LIKE 'e-upgrade-%'", ct)).ShouldBe(3);
        }
    }
}
