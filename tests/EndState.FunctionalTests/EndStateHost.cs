using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Transformation.EndState.Api;
using Transformation.EndState.V1;
using Transformation.TestSupport;
using BaselinesApi = Transformation.Baselines.Api;
using Grpc.Core;

namespace Transformation.EndState.FunctionalTests;

/// <summary>
/// The real service (AddEndStateService/MapEndStateService) on free loopback ports with its own database and vhost, and
/// the real Baselines service beside it as a separate gRPC server on its own port, which EndState reads the gap from.
/// </summary>
public sealed class EndStateHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new(postgres);
    private readonly PostgresDatabase _baselinesDatabase = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private WebApplication? _app;
    private WebApplication? _baselines;

    public TestIdentity Identity { get; } = new();

    public GrpcTestClient Client { get; private set; } = null!;

    public GrpcTestClient BaselinesClient { get; private set; } = null!;

    public string BaselinesDatabase => _baselinesDatabase.ConnectionString;

    public Uri AmqpUri => _vhost.AmqpUri;

    /// <summary>The EndState service's gRPC address.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>More configuration of the EndState service, over the rest (e.g. "GrpcHosting:WriteCallsPerSecond").</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _baselinesDatabase.InitializeAsync();
        await _vhost.InitializeAsync();
        var baselinesPort = Ports.Free();
        _baselines = await StartAsync("baselines", baselinesPort, _baselinesDatabase, [],
            b => BaselinesApi.Extensions.AddBaselinesService(b), a => BaselinesApi.Extensions.MapBaselinesService(a));
        BaselinesClient = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{baselinesPort}"));
        var grpcPort = Ports.Free();
        KeyValuePair<string, string?>[] defaults =
            [new("EndState:BaselinesAddress", $"http://127.0.0.1:{baselinesPort}"), new("EndState:ServiceTokenKey", Identity.Tokens.PrivateKeyPem)];
        _app = await StartAsync("endstate", grpcPort, _database, [.. defaults.Where(d => !Settings.ContainsKey(d.Key)), .. Settings],
            b => b.AddEndStateService(), a => a.MapEndStateService());
        Address = new Uri($"http://127.0.0.1:{grpcPort}");
        Client = GrpcTestClient.Create(Address);
    }

    private async Task<WebApplication> StartAsync(string name, int grpcPort, PostgresDatabase database, KeyValuePair<string, string?>[] settings,
        Action<WebApplicationBuilder> add, Action<WebApplication> map) =>
        (await InProcessService.StartAsync(name, database.ConnectionString, _vhost.AmqpUri, [.. settings, .. Identity.Settings], add, map, Ct, grpcPort)).App;

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        BaselinesClient?.Dispose();
        foreach (var app in new[] { _app, _baselines })
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }

        await _vhost.DisposeAsync();
        await _baselinesDatabase.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
    }

    public static CallOptions As(string token) => GrpcTestClient.As(token);

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(EndstateReflection.Descriptor.Services[0].FindMethodByName(method), request, As(token));

    public Task<long> ScalarAsync(string sql) => TestSql.ScalarAsync(_database.ConnectionString, sql, Ct);
}
