using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>The real service, built with AddInitiativesService, on free loopback ports, against the test's database and vhost.</summary>
public sealed class InitiativesHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IConnection _broker;

    private InitiativesHost(WebApplication app, GrpcClient client, IConnection broker, string database, TestIdentity identity)
    {
        (_app, Client, _broker, Database, Identity) = (app, client, broker, database, identity);
    }

    public GrpcClient Client { get; }

    public string Database { get; }

    public TestIdentity Identity { get; }

    public static async Task<InitiativesHost> StartAsync(string database, Uri rabbitMq, TestIdentity identity, CancellationToken cancellationToken)
    {
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "initiatives",
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
        builder.AddInitiativesService();
        var app = builder.Build();
        app.MapInitiativesService();
        await app.StartAsync(cancellationToken);
        var broker = await new ConnectionFactory { Uri = rabbitMq }.CreateConnectionAsync(cancellationToken);
        return new InitiativesHost(app, GrpcClient.Create(new Uri($"http://127.0.0.1:{grpcPort}")), broker, database, identity);
    }

    public static CallOptions Bearer(string token) => new() { Headers = new Metadata { { "authorization", "Bearer " + token } } };

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(InitiativesReflection.Descriptor.Services[0].FindMethodByName(method), request, Bearer(token));

    public async Task<RecordObservationsResponse> StreamAsync(IEnumerable<ObservationInput> inputs, string token)
    {
        await using var call = Client.Streaming<RecordObservationsRequest, RecordObservationsResponse>(
            InitiativesReflection.Descriptor.Services[0].FindMethodByName("RecordObservations"), Bearer(token));
        foreach (var input in inputs)
        {
            await call.WriteAsync(new RecordObservationsRequest { Observation = input });
        }

        call.CompleteRequest();
        return await call.ReadSingleAsync();
    }

    public string Token(string subject, params string[] roles) => Identity.TokenFor(subject, roles);

    /// <summary>Publishes events as their producers do: a CloudEvent on the topic's fanout exchange, persistent, confirmed.</summary>
    public async Task PublishAsync(IEnumerable<IMessage> events, CancellationToken cancellationToken)
    {
        var list = events.ToList();
        await ExchangesExistAsync(list.Select(m => EventNames.Topic(m.Descriptor)).Distinct(StringComparer.Ordinal), cancellationToken);
        await using var channel = await _broker.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
            cancellationToken);
        var tasks = new List<Task>();
        foreach (var message in list)
        {
            var producer = message.Descriptor.File.Package.Split('.')[1];
            var cloudEvent = CloudEvent.Create(message, producer, "subject", "pubsub", Guid.NewGuid());
            tasks.Add(channel.BasicPublishAsync(cloudEvent.Topic!, "", mandatory: false,
                new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType }, cloudEvent.ToUtf8Json(), cancellationToken).AsTask());
        }

        await Task.WhenAll(tasks);
    }

    /// <summary>Seeds the local copies the way production does, through the Directory's and the Incentives catalogue's events.</summary>
    public async Task SeedAsync(IReadOnlyList<(string Id, string Parent)> units, IReadOnlyList<(string Id, string Unit)> employees,
        IReadOnlyList<(string Id, Polarity Polarity)> behaviours, CancellationToken cancellationToken)
    {
        var events = new List<IMessage>();
        events.AddRange(units.Select(u => new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = u.Id, ParentId = u.Parent, Name = u.Id, Version = 1 } }));
        events.AddRange(employees.Select(e => new EmployeeJoined
        {
            Employee = new EmployeeSnapshot { EmployeeId = e.Id, OrgUnitId = e.Unit, Active = true, Version = 1, Roles = { Role.Employee } },
        }));
        events.AddRange(behaviours.Select(b => new BehaviourDefined
        {
            Behaviour = new BehaviourSnapshot { BehaviourId = b.Id, Version = 1, Name = b.Id, Polarity = b.Polarity },
        }));
        await PublishAsync(events, cancellationToken);
        await WaitUntilAsync("SELECT count(*) FROM org_units WHERE org_unit_id = ANY(@p)", units.Count, cancellationToken, units.Select(u => u.Id).ToArray());
        await WaitUntilAsync("SELECT count(*) FROM employees WHERE employee_id = ANY(@p)", employees.Count, cancellationToken, employees.Select(e => e.Id).ToArray());
        await WaitUntilAsync("SELECT count(*) FROM behaviours WHERE behaviour_id = ANY(@p)", behaviours.Count, cancellationToken, behaviours.Select(b => b.Id).ToArray());
    }

    /// <summary>The subscriber declares its topology as it starts: wait for the topics' exchanges (a passive declare fails its channel).</summary>
    private async Task ExchangesExistAsync(IEnumerable<string> topics, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var topic in topics)
        {
            while (true)
            {
                try
                {
                    await using var channel = await _broker.CreateChannelAsync(cancellationToken: cancellationToken);
                    await channel.ExchangeDeclarePassiveAsync(topic, cancellationToken);
                    break;
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }
    }

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

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
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
