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
    /// "Subscribe=false" makes a publisher only.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string[] args, IDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Configuration.AddCommandLine(args);
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.AddEventBus();
        builder.Services.AddSingleton<PoisonSwitch>();
        if (!string.Equals(builder.Configuration["Subscribe"], "false", StringComparison.OrdinalIgnoreCase))
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

    public bool Enabled { get; set; }

    public int Attempts => Volatile.Read(ref _attempts);

    internal void Hit() => Interlocked.Increment(ref _attempts);
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
            if (poison.Enabled)
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
