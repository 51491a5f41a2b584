using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.TestingHost;
using Transformation.TestSupport;

namespace Transformation.Grains.FunctionalTests;

/// <summary>
/// Our Orleans reminder table against a real PostgreSQL database: directly, under a real silo (AddGrains), and under a
/// two-silo cluster of Orleans' test host (AddGrainDefaults).
/// </summary>
public sealed class PostgresReminderTableTests(PostgresDatabase postgres) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly DateTime Start = new(2026, 1, 1, 8, 30, 0, DateTimeKind.Utc);
    private NpgsqlDataSource _dataSource = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<PostgresReminderTable> TableAsync(string serviceId)
    {
        var table = new PostgresReminderTable(_dataSource, serviceId);
        await table.StartAsync(Ct);
        return table;
    }

    private static ReminderEntry Entry(GrainId grain, string name, TimeSpan period, string? eTag = null) =>
        new() { GrainId = grain, ReminderName = name, StartAt = Start, Period = period, ETag = eTag };

    [Fact]
    public async Task AnUpsertNamingAStaleETagChangesNothingAndARemovalNeedsTheCurrentETag()
    {
        var table = await TableAsync("etags");
        var grain = GrainId.Create("test", "etags");

        var first = await table.UpsertRow(Entry(grain, "r", TimeSpan.FromMinutes(5)));
        var read = (await table.ReadRow(grain, "r")).ShouldNotBeNull();
        (read.GrainId, read.ReminderName, read.StartAt, read.Period, read.ETag).ShouldBe((grain, "r", Start, TimeSpan.FromMinutes(5), first));

        (await table.UpsertRow(Entry(grain, "r", TimeSpan.FromMinutes(10), eTag: "999"))).ShouldBeNull();
        (await table.ReadRow(grain, "r"))!.Period.ShouldBe(TimeSpan.FromMinutes(5));

        var second = await table.UpsertRow(Entry(grain, "r", TimeSpan.FromMinutes(10), eTag: first));
        second.ShouldNotBeNull().ShouldNotBe(first);
        (await table.ReadRow(grain, "r"))!.Period.ShouldBe(TimeSpan.FromMinutes(10));

        // Registering again (no ETag, as the reminder service does) replaces the row with a new version.
        var third = await table.UpsertRow(Entry(grain, "r", TimeSpan.FromMinutes(15)));
        third.ShouldNotBe(second);

        (await table.RemoveRow(grain, "r", second!)).ShouldBeFalse();
        (await table.ReadRow(grain, "r")).ShouldNotBeNull();
        (await table.RemoveRow(grain, "r", third!)).ShouldBeTrue();
        (await table.ReadRow(grain, "r")).ShouldBeNull();
    }

    [Fact]
    public async Task RowsAreReadByGrainAndByHashRangeIncludingARangeThatWraps()
    {
        var tables = await Task.WhenAll(TableAsync("ranges"), TableAsync("ranges"), TableAsync("other-service"));
        var (table, other) = (tables[0], tables[2]);
        var grains = Enumerable.Range(0, 20).Select(i => GrainId.Create("test", "range-" + i.ToString(CultureInfo.InvariantCulture))).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRow(Entry(grain, "r", TimeSpan.FromMinutes(1)));
        }

        await table.UpsertRow(Entry(grains[0], "second", TimeSpan.FromMinutes(1)));
        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToList();
        var (begin, end) = (hashes[4], hashes[12]);

        static IEnumerable<string> Names(ReminderTableData data) => data.Reminders.Select(r => $"{r.GrainId}/{r.ReminderName}").Order(StringComparer.Ordinal);
        IEnumerable<string> Expected(Func<uint, bool> inRange) =>
            grains.Where(g => inRange(g.GetUniformHashCode())).Select(g => $"{g}/r").Concat(inRange(grains[0].GetUniformHashCode()) ? [$"{grains[0]}/second"] : [])
                .Order(StringComparer.Ordinal);

        Names(await table.ReadRows(grains[0])).ShouldBe([$"{grains[0]}/r", $"{grains[0]}/second"], ignoreOrder: true);
        Names(await table.ReadRows(begin, end)).ShouldBe(Expected(h => h > begin && h <= end));
        Names(await table.ReadRows(begin, end)).Count().ShouldBe(8 + (grains[0].GetUniformHashCode() > begin && grains[0].GetUniformHashCode() <= end ? 1 : 0));
        Names(await table.ReadRows(end, begin)).ShouldBe(Expected(h => h > end || h <= begin));
        Names(await table.ReadRows(begin, begin)).Count().ShouldBe(21);
        (await other.ReadRows(0, 0)).Reminders.ShouldBeEmpty();
        (await other.ReadRows(grains[0])).Reminders.ShouldBeEmpty();
    }

    [Fact]
    public async Task AReminderRegisteredBeforeTheSiloStopsFiresAfterASiloStartsAgain()
    {
        var stopped = await StartSiloAsync(new ReminderProbe());
        await stopped.Services.GetRequiredService<IGrainFactory>().GetGrain<IReminderTestGrain>("remind-me")
            .RegisterAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        await stopped.StopAsync(Ct);
        stopped.Dispose();

        // Nothing of the reminder lived in the silo: it is in the table, brought forward so that it is due a second from now.
        await using (var due = _dataSource.CreateCommand(
            "UPDATE grain_reminders SET start_at = now() + interval '1 second' WHERE service_id = 'reminders' AND grain_id LIKE '%remind-me' AND name = 'tick'"))
        {
            (await due.ExecuteNonQueryAsync(Ct)).ShouldBe(1);
        }

        var probe = new ReminderProbe();
        using var restarted = await StartSiloAsync(probe);
        (await probe.Fired.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct)).ShouldBe("remind-me/tick");
        await restarted.StopAsync(Ct);
    }

    [Fact]
    public async Task AReminderRegisteredWhileTwoSilosRunFiresAfterEverySiloStoppedAndASiloStartedAgain()
    {
        // Orleans' test host: a cluster of two silos with its own membership, our reminder table in PostgreSQL.
        var probe = new ReminderProbe();
        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSiloHost((_, host) => host.Services.AddSingleton(probe));
        builder.ConfigureSilo((_, silo) => silo.AddGrainDefaults(_ => _dataSource));
        await using var cluster = builder.Build();
        await cluster.DeployAsync(Ct);
        cluster.GetActiveSilos().Count().ShouldBe(2);
        foreach (var (silo, name) in cluster.GetActiveSilos().Zip(["remind-a", "remind-b"]))
        {
            await silo.ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IReminderTestGrain>(name).RegisterAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        }

        await cluster.StopAllSilosAsync(Ct);
        cluster.GetActiveSilos().ShouldBeEmpty();

        // Nothing of the reminders lived in the silos: they are in the table, one brought forward so that it is due a second from now.
        await using (var due = _dataSource.CreateCommand(
            "UPDATE grain_reminders SET start_at = now() + interval '1 second' WHERE service_id = $1 AND grain_id LIKE '%remind-b' AND name = 'tick'"))
        {
            due.Parameters.Add(new NpgsqlParameter<string> { TypedValue = cluster.Options.ServiceId });
            (await due.ExecuteNonQueryAsync(Ct)).ShouldBe(1);
        }

        probe.Fired.Task.IsCompleted.ShouldBeFalse();
        await cluster.StartAdditionalSiloAsync();
        (await probe.Fired.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct)).ShouldBe("remind-b/tick");
    }

    private async Task<IHost> StartSiloAsync(ReminderProbe probe)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "reminders",
            ["Grains:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(probe);
        builder.AddGrains(_ => _dataSource);
        var host = builder.Build();
        await host.StartAsync(Ct);
        return host;
    }
}
