using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Transformation.TestSupport;

/// <summary>A service started in the test's process as its Program starts it; its gRPC address is on loopback.</summary>
public sealed record InProcessService(WebApplication App, int GrpcPort)
{
    public Uri Address => new($"http://127.0.0.1:{GrpcPort}");

    /// <summary>
    /// Builds the service with <paramref name="add"/> and <paramref name="map"/> (its Add…Service and Map…Service) on free ports (or
    /// <paramref name="grpcPort"/>), with its own database (event bus and actors) on the test's broker virtual host, quick
    /// reconnects and retries, then the <paramref name="settings"/> (identity, options of the service), and starts it.
    /// </summary>
    public static async Task<InProcessService> StartAsync(string name, string database, Uri rabbitMq, IEnumerable<KeyValuePair<string, string?>> settings,
        Action<WebApplicationBuilder> add, Action<WebApplication> map, CancellationToken cancellationToken, int? grpcPort = null, ILoggerProvider? logs = null)
    {
        ArgumentNullException.ThrowIfNull(add);
        ArgumentNullException.ThrowIfNull(map);
        var port = grpcPort ?? Ports.Free();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = name,
            ["Service:GrpcPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database,
            ["EventBus:RabbitMq"] = rabbitMq?.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:RetryBaseDelay"] = "00:00:00.050",
            ["EventBus:SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
            ["Grains:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        add(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        return new InProcessService(app, port);
    }
}
