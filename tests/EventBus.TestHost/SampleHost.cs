using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Microsoft.Extensions.Configuration;
using Transformation.Samples.V1;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus.TestHost;

/// <summary>A service that subscribes to SampleRecorded and writes one effect row per event it handles.</summary>
public static class SampleHost
{
    /// <summary>
    /// A host from configuration (command line: --Service:Name=alpha --EventBus:Database=… --EventBus:RabbitMq=…).
    /// "Subscribe=false" makes a publisher only; "Handler=batch" subscribes with <see cref="BatchEffectWriter"/> (one call per delivery batch).
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string[] args, IDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Configuration.AddCommandLine(args);
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.AddEventBus();
        builder.Services.AddSingleton<PoisonSwitch>();
        if (string.Equals(builder.Configuration["Subscribe"], "false", StringComparison.OrdinalIgnoreCase))
        {
            // A publisher only.
        }
        else if (string.Equals(builder.Configuration["Handler"], "batch", StringComparison.OrdinalIgnoreCase))
        {
            builder.Services.AddBatchSubscription<SampleRecorded, BatchEffectWriter>();
        }
        else
        {
            builder.Services.AddSubscription<SampleRecorded, EffectWriter>();
        }

        return builder;
    }

    public static async Task EnsureEffectTableAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            // Deliberately no unique key: a doubled effect must show as an extra row.
            "CREATE TABLE IF NOT EXISTS sample_effects (consumer text NOT NULL, aggregate_id text NOT NULL, number bigint NOT NULL, handled_at timestamptz NOT NULL DEFAULT clock_timestamp())",
            connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Lets a test make the handler throw for events noted "poison", and counts those attempts.</summary>
public sealed class PoisonSwitch
{
    private int _attempts;

    private int _outages;

    public bool Enabled { get; set; }

    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>How many more times the poison event's handler fails with a <see cref="TimeoutException"/> (a dependency timing out).</summary>
    public int Outages
    {
        get => Volatile.Read(ref _outages);
        set => Volatile.Write(ref _outages, value);
    }

    private int _failures;

    /// <summary>How many more times the poison event's handler fails with an error of its own, after which it succeeds.</summary>
    public int Failures
    {
        get => Volatile.Read(ref _failures);
        set => Volatile.Write(ref _failures, value);
    }

    private int _batchAttempts;
    private int _batchCalls;
    private int _largestBatch;

    /// <summary>Calls of <see cref="BatchEffectWriter"/> with more than one delivery that held a poison event.</summary>
    public int BatchAttempts => Volatile.Read(ref _batchAttempts);

    /// <summary>Calls of <see cref="BatchEffectWriter"/> with more than one delivery.</summary>
    public int BatchCalls => Volatile.Read(ref _batchCalls);

    /// <summary>The most deliveries one call of <see cref="BatchEffectWriter"/> received.</summary>
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    internal void Hit() => Interlocked.Increment(ref _attempts);

    internal bool TakeOutage() => Interlocked.Decrement(ref _outages) >= 0;

    internal bool TakeFailure() => Interlocked.Decrement(ref _failures) >= 0;

    internal void HitInBatch() => Interlocked.Increment(ref _batchAttempts);

    internal void Called(int deliveries)
    {
        if (deliveries > 1)
        {
            Interlocked.Increment(ref _batchCalls);
        }

        int largest;
        while (deliveries > (largest = Volatile.Read(ref _largestBatch)) && Interlocked.CompareExchange(ref _largestBatch, deliveries, largest) != largest)
        {
        }
    }
}

public sealed class EffectWriter(IOptions<ServiceOptions> service, PoisonSwitch poison) : IHandleEvent<SampleRecorded>
{
    public async Task HandleAsync(SampleRecorded message, EventContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (string.Equals(message.Note, "poison", StringComparison.Ordinal))
        {
            poison.Hit();
            if (poison.TakeOutage())
            {
                throw new TimeoutException($"A dependency of event {message.AggregateId}/{message.Number} timed out.");
            }

            if (poison.Enabled || poison.TakeFailure())
            {
                throw new InvalidOperationException($"Poison event {message.AggregateId}/{message.Number}.");
            }
        }

        await using var insert = new NpgsqlCommand(
            "INSERT INTO sample_effects (consumer, aggregate_id, number) VALUES ($1, $2, $3)", context.Connection, context.Transaction);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = service.Value.Name });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.AggregateId });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = message.Number });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>The batch form of <see cref="EffectWriter"/>: the effect rows of a whole delivery batch in one multi-row insert.</summary>
public sealed class BatchEffectWriter(IOptions<ServiceOptions> service, PoisonSwitch poison) : IHandleEventBatch<SampleRecorded>
{
    private const string Insert = """
        INSERT INTO sample_effects (consumer, aggregate_id, number) SELECT $1, a, n FROM unnest($2::text[], $3::bigint[]) AS t(a, n)
        """;

    public async Task HandleAsync(IReadOnlyList<EventDelivery<SampleRecorded>> deliveries, EventBatchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        ArgumentNullException.ThrowIfNull(context);
        poison.Called(deliveries.Count);
        var poisoned = deliveries.FirstOrDefault(d => string.Equals(d.Message.Note, "poison", StringComparison.Ordinal));
        if (poisoned is not null)
        {
            if (deliveries.Count == 1)
            {
                poison.Hit();
            }
            else
            {
                poison.HitInBatch();
            }

            if (poison.Enabled)
            {
                throw new InvalidOperationException($"Poison event {poisoned.Message.AggregateId}/{poisoned.Message.Number} in a batch of {deliveries.Count}.");
            }
        }

        await using var insert = new NpgsqlCommand(Insert, context.Connection, context.Transaction);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = service.Value.Name });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = deliveries.Select(d => d.Message.AggregateId).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = deliveries.Select(d => d.Message.Number).ToArray() });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}
