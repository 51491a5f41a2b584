using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Baselines.Api;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>The real service (AddBaselinesService/MapBaselinesService) on free loopback ports, with its own database and vhost.</summary>
public sealed class BaselinesHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private WebApplication? _app;
    private readonly int _httpPort = Ports.Free();
    private IConnection? _broker;

    public TestIdentity Identity { get; } = new();

    public GrpcTestClient Client { get; private set; } = null!;

    public int GrpcPort { get; } = Ports.Free();

    /// <summary>The host's own survey key ring (Baselines:Surveys:KeyRingPath), kept across restarts, deleted at the end.</summary>
    public string KeyRingPath { get; } = Path.Combine(Path.GetTempPath(), $"baselines-keys-{Guid.NewGuid():n}");

    /// <summary>The service's clock; the system's when null.</summary>
    public TimeProvider? Time { get; init; }

    /// <summary>The running service's services (e.g. to run a scheduler's pass as a second replica would).</summary>
    public IServiceProvider Services => _app!.Services;

    /// <summary>More configuration, over the rest (e.g. "GrpcHosting:WriteCallsPerSecond").</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>A connection to the test's vhost, to watch the events the service publishes.</summary>
    public IConnection Broker => _broker!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        _broker = await new ConnectionFactory { Uri = _vhost.AmqpUri }.CreateConnectionAsync(Ct);
        await StartAsync(Settings);
    }

    /// <summary>Stops the service and starts it again on the same database and ports, with <paramref name="settings"/> over the rest.</summary>
    public async Task RestartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        Client.Dispose();
        await _app!.StopAsync(Ct);
        await _app.DisposeAsync();
        await StartAsync(settings);
    }

    private async Task StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "baselines",
            ["Service:GrpcPort"] = GrpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = _httpPort.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = _database.ConnectionString,
            ["EventBus:RabbitMq"] = _vhost.AmqpUri.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
            ["Baselines:MinimumGroupSize"] = "5",
            ["Baselines:Surveys:KeyRingPath"] = KeyRingPath,
        });
        builder.Configuration.AddInMemoryCollection(Identity.Settings);
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddBaselinesService();
        if (Time is not null)
        {
            builder.Services.AddSingleton(Time);
        }

        _app = builder.Build();
        _app.MapBaselinesService();
        await _app.StartAsync(Ct);
        Client = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{GrpcPort}"));
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        await _vhost.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
        if (System.IO.Directory.Exists(KeyRingPath))
        {
            System.IO.Directory.Delete(KeyRingPath, recursive: true);
        }
    }

    public string Token(params string[] roles) => Identity.TokenFor("tester", roles);

    public static CallOptions As(string token) => GrpcTestClient.As(token);

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string? token = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(BaselinesReflection.Descriptor.Services[0].FindMethodByName(method), request, As(token ?? Token(Roles.Hr)));

    public Task<CloseAssessmentResponse> CloseAsync(string assessmentId) =>
        CallAsync<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment", new CloseAssessmentRequest { IdempotencyKey = "c" + assessmentId, AssessmentId = assessmentId });

    public async Task<SubmitResponsesResponse> SubmitAsync(string assessmentId, IEnumerable<ResponseRow> rows, string? token = null)
    {
        var messages = rows.Chunk(100).Select(chunk => new SubmitResponsesRequest { Rows = { chunk } })
            .Prepend(new SubmitResponsesRequest { Header = new SubmitResponsesHeader { AssessmentId = assessmentId } });
        return await Client.ClientStreamAsync<SubmitResponsesRequest, SubmitResponsesResponse>(
            BaselinesReflection.Descriptor.Services[0].FindMethodByName("SubmitResponses"), messages, As(token ?? Token(Roles.Hr)));
    }

    /// <summary>Publishes org units as the Directory does and waits until they are kept.</summary>
    public async Task UnitsAsync(params (string Id, string Parent)[] units)
    {
        await TestEvents.PublishAsync(_vhost.AmqpUri,
            units.Select(u => new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = u.Id, ParentId = u.Parent, Name = u.Id, Version = 1 } }), Ct);
        await TestSql.WaitUntilAsync(_database.ConnectionString, "SELECT count(*) FROM org_units WHERE org_unit_id = ANY(@p)", units.Length, Ct,
            units.Select(u => u.Id).ToArray());
    }

    /// <summary>Publishes employees joining as the Directory does and waits until they are kept.</summary>
    public async Task EmployeesAsync(params (string Id, string Unit)[] employees)
    {
        await TestEvents.PublishAsync(_vhost.AmqpUri, employees.Select(e => new EmployeeJoined
        {
            Employee = new EmployeeSnapshot
            {
                EmployeeId = e.Id, OrgUnitId = e.Unit, DisplayName = e.Id, Email = $"{e.Id}@acme.test", Active = true, Version = 1, Roles = { Role.Employee },
            },
        }), Ct);
        await TestSql.WaitUntilAsync(_database.ConnectionString, "SELECT count(*) FROM employees WHERE employee_id = ANY(@p)", employees.Length, Ct,
            employees.Select(e => e.Id).ToArray());
    }

    /// <summary>An employee's token: the subject is the employee id, as the portal's sign-in issues it.</summary>
    public string EmployeeToken(string employeeId) => Identity.TokenFor(employeeId, Roles.Employee);

    public string ConnectionString => _database.ConnectionString;

    public Task<long> ScalarAsync(string sql) => TestSql.ScalarAsync(_database.ConnectionString, sql, Ct);

    /// <summary>The data (protobuf JSON) of the last event of <paramref name="topic"/> the service wrote to its outbox for <paramref name="aggregateId"/>.</summary>
    public async Task<string> LastEventDataAsync(string topic, string aggregateId)
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("""
            SELECT (convert_from(envelope, 'UTF8')::jsonb -> 'data')::text FROM eventbus_outbox
            WHERE topic = @topic AND aggregate_id = @id ORDER BY sequence DESC LIMIT 1
            """, connection);
        command.Parameters.AddWithValue("topic", topic);
        command.Parameters.AddWithValue("id", aggregateId);
        return (string?)await command.ExecuteScalarAsync(Ct) ?? throw new InvalidOperationException($"No {topic} event for {aggregateId}.");
    }
}
