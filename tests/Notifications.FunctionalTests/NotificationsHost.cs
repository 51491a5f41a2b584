using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Transformation.Notifications.Api;
using Transformation.Notifications.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>The real service (AddNotificationsService/MapNotificationsService) on free loopback ports with its own database and vhost; it can be restarted on the same ones.</summary>
public sealed class NotificationsHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private WebApplication? _app;

    public TestIdentity Identity { get; } = new();

    public GrpcTestClient Client { get; private set; } = null!;

    /// <summary>The service's gRPC address (a new one after each start).</summary>
    public Uri Address { get; private set; } = null!;

    public Uri AmqpUri => _vhost.AmqpUri;

    public string Database => _database.ConnectionString;

    /// <summary>More configuration, over the defaults below; read at each start.</summary>
    public Dictionary<string, string?> Settings { get; } = new(StringComparer.Ordinal);

    public string Hr => Identity.TokenFor("hr-webhooks", Roles.Hr);

    /// <summary>The running service's services (the digest scheduler, say).</summary>
    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The service is not running.");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        await StartAsync();
    }

    /// <summary>Starts the service (again), on the same database and vhost.</summary>
    public async Task StartAsync()
    {
        KeyValuePair<string, string?>[] defaults =
        [
            new("EventBus:Concurrency", "1"),
            new("Notifications:WebhookMaxAttempts", "3"),
            new("Notifications:WebhookRetryBaseDelay", "00:00:00.050"),
            new("Notifications:WebhookRetryMaxDelay", "00:00:00.200"),
            new("Notifications:WebhookPollInterval", "00:00:00.020"),
            new("Notifications:WebhookTimeout", "00:00:05"),
        ];
        var service = await InProcessService.StartAsync("notifications", _database.ConnectionString, _vhost.AmqpUri,
            [.. Identity.Settings, .. defaults.Where(d => !Settings.ContainsKey(d.Key)), .. Settings],
            b => b.AddNotificationsService(), a => a.MapNotificationsService(), Ct);
        _app = service.App;
        Address = service.Address;
        Client?.Dispose();
        Client = GrpcTestClient.Create(service.Address);
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        await StopAsync();
        await _vhost.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
    }

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string? token = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(NotificationsReflection.Descriptor.Services[0].FindMethodByName(method), request, GrpcTestClient.As(token ?? Hr));

    public Task<RegisterWebhookEndpointResponse> RegisterAsync(Uri url, WebhookFormat format, params string[] eventTypes) =>
        CallAsync<RegisterWebhookEndpointRequest, RegisterWebhookEndpointResponse>("RegisterWebhookEndpoint",
            new RegisterWebhookEndpointRequest { Url = url.ToString(), Format = format, EventTypes = { eventTypes } });

    public async Task<List<WebhookDelivery>> DeliveriesAsync(string endpointId) =>
        [.. (await CallAsync<ListWebhookDeliveriesRequest, ListWebhookDeliveriesResponse>("ListWebhookDeliveries",
            new ListWebhookDeliveriesRequest { EndpointId = endpointId })).Deliveries];

    public Task<long> ScalarAsync(string sql) => TestSql.ScalarAsync(_database.ConnectionString, sql, Ct);

    public Task WaitUntilAsync(string sql, long expected) => TestSql.WaitUntilAsync(_database.ConnectionString, sql, expected, Ct);
}
