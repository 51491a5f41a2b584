using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Transformation.TestSupport;

namespace Transformation.Actors.FunctionalTests;

public sealed class PostgresActorTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StateIsStoredAsJsonbWithAVersionAndReadBackByTheNextActivation()
    {
        await using (var host = await ActorTestHost.StartAsync(database.ConnectionString))
        {
            var actor = host.Actors.Get<ICounterActor>("stored");
            await actor.AddAsync(5);
            await actor.AddAsync(7);
        }

        var (state, version) = await RowAsync("stored");
        version.ShouldBe(2);
        state.GetProperty("total").GetInt64().ShouldBe(12);
        state.GetProperty("writes").GetInt32().ShouldBe(2);

        await using var again = await ActorTestHost.StartAsync(database.ConnectionString);
        (await again.Actors.Get<ICounterActor>("stored").GetAsync()).Total.ShouldBe(12);
    }

    [Fact]
    public async Task AWriteBehindTheStoredVersionFailsAndTheNextCallRereads()
    {
        await using var host = await ActorTestHost.StartAsync(database.ConnectionString);
        var actor = host.Actors.Get<ICounterActor>("etag");
        await actor.AddAsync(1);

        await ExecuteAsync("UPDATE actor_state SET state = jsonb_set(state, '{total}', '50'), version = version + 1 WHERE actor_id = 'etag'");

        var error = await Should.ThrowAsync<InconsistentStateException>(() => actor.AddAsync(1));
        error.ExpectedVersion.ShouldBe(1);
        (await RowAsync("etag")).Version.ShouldBe(2); // the refused write changed nothing
        await WaitUntilAsync(() => host.ActorHost.ActivationCount == 0);
        (await actor.AddAsync(1)).ShouldBe(51);
    }

    [Fact]
    public async Task TwoHostsHammeringTheSameKeysEndWithTheSumOfTheCallsThatSucceeded()
    {
        await using var first = await ActorTestHost.StartAsync(database.ConnectionString);
        await using var second = await ActorTestHost.StartAsync(database.ConnectionString);
        var keys = Enumerable.Range(0, 4).Select(i => $"hammer-{i}").ToArray();
        var succeeded = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var conflicts = 0;

        await Task.WhenAll(new[] { first, second }.SelectMany(host => Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                var key = keys[(worker + i) % keys.Length];
                var amount = i % 7 + 1;
                try
                {
                    await host.Actors.Get<ICounterActor>(key).AddAsync(amount);
                    succeeded.AddOrUpdate(key, amount, (_, sum) => sum + amount);
                }
                catch (InconsistentStateException)
                {
                    Interlocked.Increment(ref conflicts);
                }
            }
        }))));

        foreach (var key in keys)
        {
            (await RowAsync(key)).State.GetProperty("total").GetInt64().ShouldBe(succeeded.GetValueOrDefault(key));
        }

        conflicts.ShouldBeGreaterThan(0); // the two hosts did race: the ETag, not luck, kept the sums right
    }

    [Fact]
    public async Task ADueReminderActivatesItsActorAfterDeactivation()
    {
        await using var host = await ActorTestHost.StartAsync(database.ConnectionString);
        var actor = host.Actors.Get<ICounterActor>("reminded");
        // Due in 3 s: long enough that the deactivation is seen before the reminder fires, even on a loaded machine.
        await actor.RemindAsync("nudge", TimeSpan.FromSeconds(3), TimeSpan.FromHours(1));
        await host.ActorHost.DeactivateAsync("counter", "reminded", Ct);
        host.ActorHost.ActivationCount.ShouldBe(0);

        await WaitUntilAsync(() => ReadTotalRemindersAsync("reminded").Result >= 1);

        (await actor.GetAsync()).Reminders.ShouldBe(["nudge"]);
        await actor.ForgetAsync("nudge");
        (await CountAsync("SELECT count(*) FROM actor_reminders WHERE actor_id = 'reminded'")).ShouldBe(0);
    }

    [Fact]
    public async Task TicksMissedWhileNoHostRanAreSkippedNotReplayed()
    {
        await using var host = await ActorTestHost.StartAsync(database.ConnectionString);
        var actor = host.Actors.Get<ICounterActor>("missed");
        await actor.RemindAsync("hourly", TimeSpan.FromHours(1), TimeSpan.FromHours(1));

        // As if every host had been down for ten periods.
        await ExecuteAsync("UPDATE actor_reminders SET due_at = now() - interval '10 hours 30 minutes' WHERE actor_id = 'missed'");
        await WaitUntilAsync(() => ReadTotalRemindersAsync("missed").Result >= 1);
        await Task.Delay(500, Ct); // several more scans

        (await actor.GetAsync()).Reminders.ShouldBe(["hourly"]);
        var nextDue = await CountAsync("SELECT extract(epoch FROM due_at - now())::bigint FROM actor_reminders WHERE actor_id = 'missed'");
        nextDue.ShouldBeInRange(0, 3600); // the next tick is the next one after now, on the original schedule
    }

    [Fact]
    public async Task AStateWriteAndItsEventsCommitTogetherOrNotAtAll()
    {
        await using var host = await ActorTestHost.StartAsync(database.ConnectionString);
        var actor = host.Actors.Get<ICounterActor>("published");
        await actor.AddAndPublishAsync(3);
        await actor.AddAndPublishAsync(4);

        (await CountAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'published'")).ShouldBe(2);
        (await RowAsync("published")).Version.ShouldBe(2);

        // Another activation wrote meanwhile: the refused write must leave no event behind either.
        await ExecuteAsync("UPDATE actor_state SET version = version + 1 WHERE actor_id = 'published'");
        await Should.ThrowAsync<InconsistentStateException>(() => actor.AddAndPublishAsync(5));
        (await CountAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = 'published'")).ShouldBe(2);
        (await CountAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'counter-increased'")).ShouldBe(2);
    }

    [Fact]
    public async Task StatementsAlongsideAStateWriteCommitWithItOrNotAtAll()
    {
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS counter_log (counter_id text NOT NULL, total bigint NOT NULL)");
        await using var host = await ActorTestHost.StartAsync(database.ConnectionString);
        var actor = host.Actors.Get<ICounterActor>("logged");
        await actor.AddAndLogAsync(3);
        await actor.AddAndLogAsync(4);
        (await CountAsync("SELECT count(*) FROM counter_log WHERE counter_id = 'logged'")).ShouldBe(2);
        (await CountAsync("SELECT max(total) FROM counter_log WHERE counter_id = 'logged'")).ShouldBe(7);

        // A refused write (another activation wrote meanwhile) leaves no row; a failing statement leaves no state.
        await ExecuteAsync("UPDATE actor_state SET version = version + 1 WHERE actor_id = 'logged'");
        await Should.ThrowAsync<InconsistentStateException>(() => actor.AddAndLogAsync(5));
        (await CountAsync("SELECT count(*) FROM counter_log WHERE counter_id = 'logged'")).ShouldBe(2);
        await WaitUntilAsync(() => host.ActorHost.ActivationCount == 0);
        await ExecuteAsync("ALTER TABLE counter_log ADD CONSTRAINT small CHECK (total < 10)");
        await Should.ThrowAsync<PostgresException>(() => actor.AddAndLogAsync(5));
        (await RowAsync("logged")).Version.ShouldBe(3);
        (await RowAsync("logged")).State.GetProperty("total").GetInt64().ShouldBe(7);
    }

    private async Task<int> ReadTotalRemindersAsync(string id)
    {
        var row = await TryRowAsync(id);
        return row is null ? 0 : row.Value.State.GetProperty("reminders").GetArrayLength();
    }

    private async Task<(JsonElement State, int Version)> RowAsync(string id) =>
        await TryRowAsync(id) ?? throw new InvalidOperationException($"No stored state for {id}.");

    private async Task<(JsonElement State, int Version)?> TryRowAsync(string id)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT state::text, version FROM actor_state WHERE actor_type = 'counter' AND actor_id = @id", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        return await reader.ReadAsync(Ct) ? (JsonDocument.Parse(reader.GetString(0)).RootElement.Clone(), reader.GetInt32(1)) : null;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            waited.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30), "the condition never held");
            await Task.Delay(20);
        }
    }
}
