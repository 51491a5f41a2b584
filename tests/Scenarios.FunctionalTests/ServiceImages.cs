using System.Globalization;
using DotNet.Testcontainers.Containers;
using Npgsql;
using Transformation.TestSupport;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// The seven deployables as containers of their own images (tools/images/build.sh builds each one the machine lacks), run as
/// k8s/ runs them: as uid 1654, on a read-only root file system with a tmpfs /tmp, no capabilities and no privilege
/// escalation; on the host network, each on free loopback ports (Service__*, Grains__* in the environment), over the
/// run's PostgreSQL (a database each) and RabbitMQ (a virtual host of this class) containers. Ready once each answers
/// /health/ready on its HTTP port.
/// </summary>
public sealed class ServiceImages(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    /// <summary>The images of k8s/base/services (transformation/NAME), in the order they start: the portal last.</summary>
    public static readonly string[] Names = ["directory", "incentives", "baselines", "initiatives", "endstate", "notifications", "portal"];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly string _virtualHost = TestNames.Unique("vhost");
    private readonly Dictionary<string, ServiceContainer> _services = new(StringComparer.Ordinal);
    private readonly List<string> _databases = [];
    private bool _virtualHostCreated;

    /// <summary>The token issuer the services trust.</summary>
    public TestIdentity Identity { get; } = new();

    public Uri AmqpUri => rabbitMq.Server.AmqpUri(_virtualHost);

    public ServiceContainer this[string name] => _services[name];

    public IEnumerable<ServiceContainer> All => _services.Values;

    public async ValueTask InitializeAsync()
    {
        if (!ServerContainers.InUse)
        {
            throw new InvalidOperationException(
                "The service images run on a Docker engine, and none answers: tools/images/engine.sh installs and starts one (as root).");
        }

        await rabbitMq.Server.CreateVirtualHostAsync(_virtualHost);
        _virtualHostCreated = true;
        var ports = Names.ToDictionary(name => name, _ => (Grpc: Ports.Free(), Http: Ports.Free()), StringComparer.Ordinal);
        var address = (string name) => $"http://127.0.0.1:{ports[name].Grpc}";
        var settings = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["directory"] = new Dictionary<string, string>(),
            ["incentives"] = new Dictionary<string, string>(),
            // The root is read-only, as in k8s, where a volume holds the key ring; here the container's tmpfs does.
            ["baselines"] = new Dictionary<string, string> { ["Baselines__Surveys__KeyRingPath"] = "/tmp/survey-keys" },
            ["initiatives"] = new Dictionary<string, string>(),
            ["endstate"] = new Dictionary<string, string>
            {
                ["EndState__BaselinesAddress"] = address("baselines"),
                ["EndState__ServiceTokenKey"] = Identity.Tokens.PrivateKeyPem,
            },
            ["notifications"] = new Dictionary<string, string>(),
        };

        try
        {
            // All consumers start before anything is published (a queue only receives what is published after it exists).
            await Task.WhenAll(settings.Select(async service =>
            {
                var database = await postgres.Server.CreateDatabaseAsync(TestNames.Unique(service.Key).ToLowerInvariant());
                lock (_databases)
                {
                    _databases.Add(new NpgsqlConnectionStringBuilder(database).Database!);
                }

                await StartAsync(service.Key, ports[service.Key], database, new Dictionary<string, string>(service.Value, StringComparer.Ordinal)
                {
                    ["EventBus__Database"] = database,
                    ["EventBus__RabbitMq"] = AmqpUri.ToString(),
                    ["EventBus__ReconnectDelay"] = "00:00:00.500",
                    ["EventBus__RetryBaseDelay"] = "00:00:00.050",
                    ["EventBus__SentRetention"] = "1.00:00:00", // the tests read what was published from the outbox
                    ["Grains__SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
                    ["Grains__GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
                });
            }));
            await StartAsync("portal", ports["portal"], null, new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["Services__Directory"] = address("directory"),
                ["Services__Incentives"] = address("incentives"),
                ["Services__Baselines"] = address("baselines"),
                ["Services__Initiatives"] = address("initiatives"),
                ["Services__EndState"] = address("endstate"),
                ["Services__Notifications"] = address("notifications"),
            });
        }
        catch
        {
            // Whatever did start goes now: a fixture that failed to start is not disposed.
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in _services.Values)
        {
            await service.Container.DisposeAsync();
        }

        foreach (var database in _databases)
        {
            await postgres.Server.DropDatabaseAsync(database);
        }

        if (_virtualHostCreated && rabbitMq.Server.IsRunning)
        {
            await rabbitMq.Server.DeleteVirtualHostAsync(_virtualHost);
        }

        _services.Clear();
        _databases.Clear();
        _virtualHostCreated = false;
        Identity.Dispose();
    }

    private async Task StartAsync(string name, (int Grpc, int Http) ports, string? database, Dictionary<string, string> environment)
    {
        environment["Service__Name"] = name;
        environment["Service__GrpcPort"] = ports.Grpc.ToString(CultureInfo.InvariantCulture);
        environment["Service__HttpPort"] = ports.Http.ToString(CultureInfo.InvariantCulture);
        environment["Service__BindAddress"] = "127.0.0.1";
        environment["Service__ShutdownTimeout"] = "00:00:05";
        foreach (var (key, value) in Identity.Settings)
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }

        var container = await ServerContainers.StartAsync(name, builder => builder
                .WithEnvironment(environment)
                .WithTmpfsMount("/tmp")
                .WithCreateParameterModifier(parameters =>
                {
                    parameters.User = "1654";
                    parameters.HostConfig!.ReadonlyRootfs = true;
                    parameters.HostConfig.CapDrop = ["ALL"];
                    parameters.HostConfig.SecurityOpt = ["no-new-privileges"];
                }),
            cancellationToken => AnswersAsync(new Uri($"http://127.0.0.1:{ports.Http}/health/ready"), cancellationToken), StartTimeout);
        lock (_services)
        {
            _services.Add(name, new ServiceContainer(name, container, ports.Grpc, ports.Http, database));
        }
    }

    private static async Task<bool> AnswersAsync(Uri address, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(address, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}

/// <summary>A deployable's running container: its gRPC (none for the portal) and HTTP ports on loopback, its database's connection string.</summary>
public sealed record ServiceContainer(string Name, IContainer Container, int GrpcPort, int HttpPort, string? Database)
{
    public Uri GrpcAddress => new($"http://127.0.0.1:{GrpcPort}");

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort}");
}
