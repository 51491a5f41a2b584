using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using RabbitMQ.Client;
using Transformation.EventBus.TestHost;
using Transformation.Samples.V1;

namespace Transformation.EventBus.FunctionalTests;

/// <summary>Helpers shared by the functional tests: sample hosts, publishing through the outbox, counting effects.</summary>
internal static class Samples
{
    public const string Topic = "sample-recorded";

    public static Dictionary<string, string?> Settings(string appId, string database, Uri rabbitMq) => new(StringComparer.Ordinal)
    {
        ["Service:Name"] = appId,
        ["EventBus:Database"] = database,
        ["EventBus:RabbitMq"] = rabbitMq.ToString(),
        ["EventBus:ReconnectDelay"] = "00:00:00.500",
    };

    /// <summary>A started in-process service: a subscriber unless Subscribe=false is among the settings.</summary>
    public static async Task<IHost> StartAsync(Dictionary<string, string?> settings, CancellationToken cancellationToken)
    {
        await SampleHost.EnsureEffectTableAsync(settings["EventBus:Database"]!, cancellationToken);
        var host = SampleHost.CreateBuilder([], settings).Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    /// <summary>Writes events 1..count, round-robin over the aggregates, through the outbox in transactions of 1,000.</summary>
    public static async Task EnqueueAsync(IHost publisher, string database, int count, int aggregates, CancellationToken cancellationToken,
        Func<int, string>? note = null)
    {
        var outbox = publisher.Services.GetRequiredService<Outbox>();
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        for (var start = 1; start <= count; start += 1000)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var events = Enumerable.Range(start, Math.Min(1000, count - start + 1))
                .Select(n => new OutgoingEvent($"aggregate-{n % aggregates}", new SampleRecorded
                {
                    AggregateId = $"aggregate-{n % aggregates}",
                    Number = n,
                    Note = note?.Invoke(n) ?? "",
                }))
                .ToList();
            await outbox.EnqueueAsync(connection, transaction, events, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public static Task<long> EffectsAsync(string database, string consumer, CancellationToken cancellationToken) =>
        ScalarAsync(database, $"SELECT count(*) FROM sample_effects WHERE consumer = '{consumer}'", cancellationToken);

    public static Task<long> DistinctEffectsAsync(string database, string consumer, CancellationToken cancellationToken) =>
        ScalarAsync(database, $"SELECT count(DISTINCT number) FROM sample_effects WHERE consumer = '{consumer}'", cancellationToken);

    public static Task<long> UnsentAsync(string database, CancellationToken cancellationToken) =>
        ScalarAsync(database, "SELECT count(*) FROM eventbus_outbox WHERE sent_at IS NULL", cancellationToken);

    public static async Task<long> ScalarAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Messages ready in a queue, straight from the broker (the management API's figures lag).</summary>
    public static async Task<uint> ReadyAsync(Uri rabbitMq, string queue, CancellationToken cancellationToken)
    {
        await using var connection = await new ConnectionFactory { Uri = rabbitMq }.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
    }

    /// <summary>Polls until the condition holds; a deadline for a hung test, not a timing assertion.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan deadline, string what, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        while (!await condition())
        {
            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Still waiting after {deadline}: {what}", exception);
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
