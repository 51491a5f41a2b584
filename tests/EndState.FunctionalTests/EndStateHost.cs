using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Transformation.EndState.Api;
using Transformation.EndState.V1;
using Transformation.GrpcHosting;
using Transformation.TestSupport;

namespace Transformation.EndState.FunctionalTests;

/// <summary>The real service (AddEndStateService/MapEndStateService) on free loopback ports, with its own database and vhost.</summary>
public sealed class EndStateHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private WebApplication? _app;

    public TestIdentity Identity { get; } = new();

    public GrpcClient Client { get; private set; } = null!;

    public string ConnectionString => _database.ConnectionString;

    public Uri AmqpUri => _vhost.AmqpUri;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        var grpcPort = FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "endstate",
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = _database.ConnectionString,
            ["EventBus:RabbitMq"] = _vhost.AmqpUri.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            // No Baselines here (the scenario tests run one): nothing listens on this port.
            ["EndState:BaselinesAddress"] = $"http://127.0.0.1:{FreePort()}",
            ["EndState:ServiceTokenKey"] = Identity.Tokens.PrivateKeyPem,
        });
        builder.Configuration.AddInMemoryCollection(Identity.Settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddEndStateService();
        _app = builder.Build();
        _app.MapEndStateService();
        await _app.StartAsync(Ct);
        Client = GrpcClient.Create(new Uri($"http://127.0.0.1:{grpcPort}"));
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        await _vhost.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
    }

    public static CallOptions As(string token) => new() { Headers = new Metadata { { "authorization", "Bearer " + token } } };

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(EndstateReflection.Descriptor.Services[0].FindMethodByName(method), request, As(token));

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
