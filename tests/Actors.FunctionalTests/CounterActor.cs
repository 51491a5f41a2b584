using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Transformation.Actors.FunctionalTests.Events;
using Transformation.EventBus;

namespace Transformation.Actors.FunctionalTests;

public sealed record Counter(long Total, int Writes, List<string> Reminders)
{
    public Counter()
        : this(0, 0, [])
    {
    }
}

public interface ICounterActor : IActor
{
    Task<long> AddAsync(long amount);

    [ReadOnly]
    Task<Counter> GetAsync();

    Task RemindAsync(string name, TimeSpan dueTime, TimeSpan period);

    Task ForgetAsync(string name);

    /// <summary>Adds and publishes CounterIncreased through the outbox, in the state write's transaction.</summary>
    Task<long> AddAndPublishAsync(long amount);

    /// <summary>Adds and records the addition in counter_log (which the test creates), in the state write's transaction.</summary>
    Task<long> AddAndLogAsync(long amount);
}

public sealed class CounterActor : Actor<Counter>, ICounterActor, IRemindable
{
    public async Task<long> AddAsync(long amount)
    {
        await WriteStateAsync(State with { Total = State.Total + amount, Writes = State.Writes + 1 });
        return State.Total;
    }

    public async Task<long> AddAndPublishAsync(long amount)
    {
        var next = State with { Total = State.Total + amount, Writes = State.Writes + 1 };
        await WriteStateAsync(next, [new OutgoingEvent(Id, new CounterIncreased { CounterId = Id, Total = next.Total })]);
        return State.Total;
    }

    public async Task<long> AddAndLogAsync(long amount)
    {
        var next = State with { Total = State.Total + amount, Writes = State.Writes + 1 };
        await WriteStateAsync(next, [], async (connection, transaction, cancellationToken) =>
        {
            await using var command = new Npgsql.NpgsqlCommand("INSERT INTO counter_log (counter_id, total) VALUES ($1, $2)", connection, transaction);
            command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = Id });
            command.Parameters.Add(new Npgsql.NpgsqlParameter<long> { TypedValue = next.Total });
            await command.ExecuteNonQueryAsync(cancellationToken);
        });
        return State.Total;
    }

    public Task<Counter> GetAsync() => Task.FromResult(State);

    public Task RemindAsync(string name, TimeSpan dueTime, TimeSpan period) => RegisterOrUpdateReminderAsync(name, dueTime, period);

    public Task ForgetAsync(string name) => UnregisterReminderAsync(name);

    public Task ReceiveReminderAsync(string name, CancellationToken cancellationToken) =>
        WriteStateAsync(State with { Reminders = [.. State.Reminders, name] }, cancellationToken: cancellationToken);
}

/// <summary>A service host with actors on PostgreSQL, as a service builds it.</summary>
public sealed class ActorTestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private ActorTestHost(IHost host) => _host = host;

    public ActorFactory Actors => _host.Services.GetRequiredService<ActorFactory>();

    public ActorHost ActorHost => _host.Services.GetRequiredService<ActorHost>();

    public static async Task<ActorTestHost> StartAsync(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "counters",
            ["Actors:Database"] = connectionString,
            ["Actors:ReminderScanInterval"] = "00:00:00.100",
            ["Actors:MinimumReminderPeriod"] = "00:00:00.100",
            // The outbox only: no broker is needed to see what the actor committed.
            ["EventBus:Database"] = connectionString,
            ["EventBus:RelayEnabled"] = "false",
        });
        builder.AddEventBus();
        builder.AddActors();
        builder.Services.AddActor<ICounterActor, CounterActor>("counter");
        var host = builder.Build();
        await host.StartAsync();
        return new ActorTestHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
