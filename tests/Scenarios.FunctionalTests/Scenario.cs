using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Transformation.GrpcHosting;
using Transformation.TestSupport;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>What scenarios share: a real service on free ports with its own database on the scenario's vhost, calls, waits.</summary>
internal static class Scenario
{
    public static async Task<(WebApplication App, GrpcClient Client)> StartAsync(string name, string database, Uri rabbitMq, TestIdentity identity,
        Action<WebApplicationBuilder> add, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = name,
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database,
            ["EventBus:RabbitMq"] = rabbitMq.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:RetryBaseDelay"] = "00:00:00.050",
            ["Actors:Database"] = database,
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        add(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        return (app, GrpcClient.Create(new Uri($"http://127.0.0.1:{grpcPort}")));
    }

    public static Task<TResponse> Unary<TRequest, TResponse>(this GrpcClient client, Google.Protobuf.Reflection.FileDescriptor file, string method,
        TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request,
            new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + token } } });

    /// <summary>Waits until a count query in a service's database gives the expected number (events travel asynchronously).</summary>
    public static async Task WaitAsync(string database, string sql, long expected, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(sql, connection);
            var actual = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            if (actual == expected)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{sql}' counted {actual}, expected {expected}.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
