using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>The real service, built with AddInitiativesService, on free loopback ports, against the test's database and vhost.</summary>
public sealed class InitiativesHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Uri _rabbitMq;

    private InitiativesHost(WebApplication app, Uri address, Uri rabbitMq, string database, TestIdentity identity)
    {
        (_app, Address, _rabbitMq, Database, Identity) = (app, address, rabbitMq, database, identity);
        Client = GrpcTestClient.Create(address);
    }

    public Uri Address { get; }

    /// <summary>The service's own services (its grain factory, for tests of the initiative grain in its real host).</summary>
    public IServiceProvider Services => _app.Services;

    public GrpcTestClient Client { get; }

    public string Database { get; }

    public TestIdentity Identity { get; }

    /// <summary>Starts an instance; <paramref name="settings"/> override the configuration below (e.g. "GrpcHosting:WriteCallsPerSecond").</summary>
    public static async Task<InitiativesHost> StartAsync(string database, Uri rabbitMq, TestIdentity identity, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var (grpcPort, httpPort) = (Ports.Free(), Ports.Free());
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
            ["EventBus:SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
            ["Grains:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>(StringComparer.Ordinal));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddInitiativesService();
        var app = builder.Build();
        app.MapInitiativesService();
        await app.StartAsync(cancellationToken);
        return new InitiativesHost(app, new Uri($"http://127.0.0.1:{grpcPort}"), rabbitMq, database, identity);
    }

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(InitiativesReflection.Descriptor.Services[0].FindMethodByName(method), request, GrpcTestClient.As(token));

    public Task<RecordObservationsResponse> StreamAsync(IEnumerable<ObservationInput> inputs, string token) =>
        Client.ClientStreamAsync<RecordObservationsRequest, RecordObservationsResponse>(
            InitiativesReflection.Descriptor.Services[0].FindMethodByName("RecordObservations"),
            inputs.Select(input => new RecordObservationsRequest { Observation = input }), GrpcTestClient.As(token));

    public string Token(string subject, params string[] roles) => Identity.TokenFor(subject, roles);

    public Task PublishAsync(IEnumerable<IMessage> events, CancellationToken cancellationToken) => TestEvents.PublishAsync(_rabbitMq, events, cancellationToken);

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

    public Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, object? parameter = null) =>
        TestSql.ScalarAsync(Database, sql, cancellationToken, parameter);

    public Task WaitUntilAsync(string sql, long expected, CancellationToken cancellationToken, object? parameter = null) =>
        TestSql.WaitUntilAsync(Database, sql, expected, cancellationToken, parameter);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
