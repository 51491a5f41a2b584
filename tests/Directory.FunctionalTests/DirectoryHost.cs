using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Directory.Api;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Grpc.Core;

namespace Transformation.Directory.FunctionalTests;

/// <summary>An event as the broker delivered it: the CloudEvent type, subject and data.</summary>
public sealed record ReceivedEvent(string Type, string Subject, JsonObject Data);

/// <summary>
/// The Directory service hosted in-process (the Program's own AddDirectoryService/MapDirectoryService) on free loopback
/// ports, with a database and a vhost of its own, trusting a test identity; and a queue that receives its events.
/// </summary>
public sealed class DirectoryHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public const string EventQueue = "directory-tests-events";

    public static readonly string[] Topics =
        ["org-unit-changed", "employee-joined", "employee-moved", "employee-updated", "employee-left", "employee-erased"];

    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private WebApplication? _app;
    private IConnection? _broker;

    public TestIdentity Identity { get; } = new();

    public GrpcTestClient Client { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string ConnectionString => _database.ConnectionString;

    public int GrpcPort { get; } = FreePort();

    public int HttpPort { get; } = FreePort();

    /// <summary>The share of active people a sync may deactivate without force.</summary>
    public double MaxDeactivatedShare { get; init; } = 0.10;

    /// <summary>More configuration, over the rest (e.g. "GrpcHosting:WriteCallsPerSecond").</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        _broker = await new ConnectionFactory { Uri = _vhost.AmqpUri }.CreateConnectionAsync(Ct);
        await using (var channel = await _broker.CreateChannelAsync(cancellationToken: Ct))
        {
            await channel.QueueDeclareAsync(EventQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: Ct);
            foreach (var topic in Topics)
            {
                await RabbitMqTopology.DeclareTopicAsync(channel, topic, Ct);
                await channel.QueueBindAsync(EventQueue, topic, "", cancellationToken: Ct);
            }
        }

        // Development, as `transform run` runs it: where ASP.NET Core would show an exception's stack trace to the client.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Development });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "directory",
            ["Service:GrpcPort"] = GrpcPort.ToString(),
            ["Service:HttpPort"] = HttpPort.ToString(),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = _database.ConnectionString,
            ["EventBus:RabbitMq"] = _vhost.AmqpUri.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
            ["Directory:MaxDeactivatedShare"] = MaxDeactivatedShare.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.Configuration.AddInMemoryCollection(Identity.Settings);
        builder.Configuration.AddInMemoryCollection(Settings);
        builder.AddDirectoryService();
        _app = builder.Build();
        _app.MapDirectoryService();
        await _app.StartAsync(Ct);
        Client = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{GrpcPort}"));
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/") };
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        Http?.Dispose();
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
    }

    public string Token(params string[] roles) => Identity.TokenFor("tester", roles);

    public static CallOptions As(string token) => GrpcTestClient.As(token);

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, string? token = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Client.UnaryAsync<TRequest, TResponse>(DirectoryReflection.Descriptor.Services[0].FindMethodByName(method), request,
            As(token ?? Token(Roles.Hr)));

    /// <summary>An import over the client-streaming RPC: options first, then the rows in messages of 100.</summary>
    public async Task<ImportDirectoryResponse> ImportAsync(ImportOptions options, IReadOnlyList<ImportOrgUnitRow> units,
        IReadOnlyList<ImportEmployeeRow> employees, string? token = null)
    {
        var messages = new List<ImportDirectoryRequest> { new() { Options = options } };
        messages.AddRange(units.Chunk(100).Select(chunk => new ImportDirectoryRequest { OrgUnits = { chunk } }));
        messages.AddRange(employees.Chunk(100).Select(chunk => new ImportDirectoryRequest { Employees = { chunk } }));
        return await Client.ClientStreamAsync<ImportDirectoryRequest, ImportDirectoryResponse>(
            DirectoryReflection.Descriptor.Services[0].FindMethodByName("ImportDirectory"), messages, As(token ?? Token(Roles.Hr)));
    }

    /// <summary>Empties the directory, its outbox and the test queue, so that each test starts from nothing.</summary>
    public async Task ResetAsync()
    {
        await ExecuteAsync("TRUNCATE org_units, org_unit_versions, employees, employee_versions, scim_identities, idempotent_requests, eventbus_outbox");
        await using var channel = await _broker!.CreateChannelAsync(cancellationToken: Ct);
        await channel.QueuePurgeAsync(EventQueue, Ct);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Events from the test queue until <paramref name="count"/> arrived (a deadline for a hung test, not a timing assertion).</summary>
    public async Task<IReadOnlyList<ReceivedEvent>> ReceiveEventsAsync(int count)
    {
        var received = new List<ReceivedEvent>();
        await using var channel = await _broker!.CreateChannelAsync(cancellationToken: Ct);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count < count)
        {
            var delivery = await channel.BasicGetAsync(EventQueue, autoAck: true, Ct);
            if (delivery is null)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Received {received.Count} of {count} events: {string.Join(", ", received.Select(e => e.Type))}");
                }

                await Task.Delay(50, Ct);
                continue;
            }

            var envelope = JsonNode.Parse(Encoding.UTF8.GetString(delivery.Body.Span))!.AsObject();
            received.Add(new ReceivedEvent((string)envelope["type"]!, (string?)envelope["subject"] ?? "", envelope["data"]!.AsObject()));
        }

        return received;
    }

    /// <summary>A SCIM request with a bearer token (hr unless given) and a SCIM JSON body.</summary>
    public Task<(HttpStatusCode Status, JsonNode? Body)> ScimAsync(HttpMethod method, string path, string? body = null, string? token = null) =>
        ScimAsync(method, path, body is null ? null : Encoding.UTF8.GetBytes(body), token);

    /// <summary>A SCIM request with a body of any bytes; the answer's body must be JSON (a SCIM resource or error), or empty.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> ScimAsync(HttpMethod method, string path, byte[]? body, string? token = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Token(Roles.Hr));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/scim+json");
        }

        using var response = await Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
