using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Incentives.Api;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>The real service, built with AddIncentivesService, on free loopback ports, against the test's database and vhost.</summary>
public sealed class IncentivesHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcTestClient _client;
    private readonly IConnection _broker;

    private IncentivesHost(WebApplication app, Uri address, IConnection broker, string database, TestIdentity identity)
    {
        (_app, Address, _broker, Database, Identity) = (app, address, broker, database, identity);
        _client = GrpcTestClient.Create(address);
    }

    public Uri Address { get; }

    public string Database { get; }

    public TestIdentity Identity { get; }

    public IServiceProvider Services => _app.Services;

    public GrpcTestClient Client => _client;

    /// <summary>Starts an instance; <paramref name="settings"/> override the configuration below (e.g. "Incentives:FeedBufferSize").</summary>
    public static async Task<IncentivesHost> StartAsync(string database, Uri rabbitMq, TestIdentity identity, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "incentives",
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database,
            ["EventBus:RabbitMq"] = rabbitMq.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:RetryBaseDelay"] = "00:00:00.050",
            ["EventBus:SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
            ["Grains:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Incentives:LeaderboardEnabled"] = "true",
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>(StringComparer.Ordinal));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddIncentivesService();
        var app = builder.Build();
        app.MapIncentivesService();
        await app.StartAsync(cancellationToken);
        var broker = await new ConnectionFactory { Uri = rabbitMq }.CreateConnectionAsync(cancellationToken);
        return new IncentivesHost(app, new Uri($"http://127.0.0.1:{grpcPort}"), broker, database, identity);
    }

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        _client.UnaryAsync<TRequest, TResponse>(IncentivesReflection.Descriptor.Services[0].FindMethodByName(method), request, GrpcTestClient.As(token));

    public string Token(string subject, params string[] roles) => Identity.TokenFor(subject, roles);

    /// <summary>hr defines a behaviour of the catalogue ("{name} others" describes it).</summary>
    public Task DefineBehaviourAsync(string id, string name, Polarity polarity, string hrToken) =>
        CallAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour", new DefineBehaviourRequest
        {
            IdempotencyKey = $"define-{id}", BehaviourId = id,
            Behaviour = new BehaviourDraft { Name = name, Description = $"{name} others", Polarity = polarity },
        }, hrToken);

    /// <summary>hr replaces the incentive rules.</summary>
    public Task SetRulesAsync(IncentiveRules rules, string hrToken) =>
        CallAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = "rules", Rules = rules }, hrToken);

    /// <summary>Starts watching an employee's live feed (on its own client when given one, i.e. its own HTTP/2 connection).</summary>
    public AsyncServerStreamingCall<WatchEmployeeFeedResponse> Watch(string employeeId, string token, CancellationToken cancellationToken,
        GrpcTestClient? client = null) =>
        (client ?? _client).ServerStreaming<WatchEmployeeFeedRequest, WatchEmployeeFeedResponse>(
            IncentivesReflection.Descriptor.Services[0].FindMethodByName("WatchEmployeeFeed"), new WatchEmployeeFeedRequest { EmployeeId = employeeId },
            GrpcTestClient.As(token, cancellationToken: cancellationToken));

    /// <summary>A second client of this host, on a connection of its own.</summary>
    public GrpcTestClient NewClient() => GrpcTestClient.Create(Address);

    /// <summary>Publishes events as their producers do: a CloudEvent on the topic's fanout exchange, persistent, confirmed.</summary>
    public async Task PublishAsync(IEnumerable<(IMessage Message, string EventId)> events, CancellationToken cancellationToken)
    {
        await using var channel = await _broker.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
            cancellationToken);
        var tasks = new List<Task>();
        foreach (var (message, eventId) in events)
        {
            var producer = message.Descriptor.File.Package.Split('.')[1];
            var cloudEvent = CloudEvent.Create(message, producer, "subject", "pubsub", Guid.Parse(eventId));
            tasks.Add(channel.BasicPublishAsync(cloudEvent.Topic!, "", mandatory: false,
                new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType }, cloudEvent.ToUtf8Json(), cancellationToken).AsTask());
        }

        await Task.WhenAll(tasks);
    }

    public Task PublishAsync(IMessage message, CancellationToken cancellationToken) => PublishAsync([(message, Guid.NewGuid().ToString())], cancellationToken);

    public async Task JoinAsync(CancellationToken cancellationToken, params (string Id, string Unit, string Manager)[] employees)
    {
        await PublishAsync(employees.Select(e => ((IMessage)new EmployeeJoined
        {
            Employee = new EmployeeSnapshot { EmployeeId = e.Id, OrgUnitId = e.Unit, ManagerId = e.Manager, Active = true, Version = 1, Roles = { Role.Employee } },
        }, Guid.NewGuid().ToString())), cancellationToken);
        var ids = employees.Select(e => e.Id).ToArray();
        await WaitUntilAsync($"SELECT count(*) FROM employees WHERE employee_id = ANY(@p)", ids.Length, cancellationToken, ids);
    }

    public static BehaviourObserved Observed(string employee, string behaviour, ObservationSource source, string observer = "", string unit = "unit-x",
        Polarity polarity = Polarity.Desired, DateTimeOffset? at = null, string? id = null) => new()
        {
            ObservationId = id ?? Guid.NewGuid().ToString(),
            EmployeeId = employee,
            BehaviourId = behaviour,
            BehaviourVersion = 1,
            Polarity = polarity,
            Source = source,
            ObserverId = observer,
            ObservedAt = Timestamp.FromDateTimeOffset(at ?? DateTimeOffset.UtcNow),
            RecordedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            OrgUnitId = unit,
        };

    public async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, object? parameter = null)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue("p", parameter);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
    }

    /// <summary>Polls until the query counts <paramref name="expected"/> (fails after 30 s).</summary>
    public async Task WaitUntilAsync(string sql, long expected, CancellationToken cancellationToken, object? parameter = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long actual;
        while ((actual = await ScalarAsync(sql, cancellationToken, parameter)) != expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{sql}' counted {actual}, expected {expected}.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Waits until the subscriber's queues are empty and nothing is unacknowledged (no further effect can come).</summary>
    public async Task DrainedAsync(string queue, CancellationToken cancellationToken)
    {
        await using var channel = await _broker.CreateChannelAsync(cancellationToken: cancellationToken);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var declared = await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
            if (declared.MessageCount == 0)
            {
                // The last deliveries may still be in a handler: give them a moment, then look again.
                await Task.Delay(300, cancellationToken);
                if ((await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount == 0)
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{queue} still holds {declared.MessageCount} messages.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _broker.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
