using System.Diagnostics;
using System.Reflection;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Run;

/// <summary>
/// A service of the local run: its project, its database and its two ports (the portal has no gRPC port). An optional service is
/// started only when its Release build exists.
/// </summary>
public sealed record LocalService(string Name, string Project, int GrpcPort, int HttpPort, bool Optional = false, int SiloPort = 0, int GatewayPort = 0)
{
    public const string PortalName = "portal";

    /// <summary>
    /// Every service, in start order: the Directory first (the others keep copies of it), consumers before the
    /// producers whose events they keep (a queue only receives what is published after it exists); the portal last.
    /// </summary>
    public static IReadOnlyList<LocalService> All { get; } =
    [
        // Notifications hears every producer's events (outbound webhooks), so its queues come first.
        new("notifications", "Notifications.Api", 5110, 5210),
        new("directory", "Directory.Api", 5060, 5160),
        new("baselines", "Baselines.Api", 5080, 5180),
        // The services with Orleans grains co-host a silo each: its own silo and gateway ports on the one machine.
        new("initiatives", "Initiatives.Api", 5090, 5190, SiloPort: 11111, GatewayPort: 30000),
        new("incentives", "Incentives.Api", 5070, 5170, SiloPort: 11112, GatewayPort: 30001),
        new("endstate", "EndState.Api", 5100, 5200),
        new(PortalName, "Portal.Web", 0, 5050, Optional: true),
    ];

    public string Database => Name;

    /// <summary>The databases of the services (the portal has none), created with the servers (<see cref="LocalSystem.StartAsync"/>).</summary>
    public static IReadOnlyList<string> Databases { get; } = [.. All.Where(s => !s.IsPortal).Select(s => s.Database)];

    /// <summary>Where `dotnet build -c Release` puts the service's entry assembly.</summary>
    public string Assembly => Path.Combine(LocalServices.RepositoryRoot, "services", Project, "bin", "Release", "net10.0", $"Transformation.{Project}.dll");

    public bool IsPortal => string.Equals(Name, PortalName, StringComparison.Ordinal);

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";

    public static LocalService Named(string name) => All.Single(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}

/// <summary>Starts the services as processes that die with this one, and waits until each is ready.</summary>
public sealed class LocalServices : IAsyncDisposable
{
    private readonly List<(LocalService Service, SupervisedProcess Process)> _running = [];

    public IReadOnlyList<LocalService> Running => _running.Select(r => r.Service).ToList();

    /// <summary>Optional services not started because their build does not exist.</summary>
    public List<LocalService> Skipped { get; } = [];

    /// <summary>The repository this command was built from (services are run from their Release builds there).</summary>
    public static string RepositoryRoot =>
        typeof(LocalServices).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => string.Equals(a.Key, "RepositoryRoot", StringComparison.Ordinal)).Value!;

    public static async Task<LocalServices> StartAsync(LocalSystem system, TokenIssuer issuer, string logDirectory, Action<string> progress,
        CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(logDirectory);
        var services = new LocalServices();
        try
        {
            EnsurePortsFree();

            // Every process starts at once (start-up is mostly JIT and connecting, better overlapped). That is safe for the events:
            // a service publishes only what it is asked to write, and nothing is written before all of them are ready, by which time
            // every consumer has declared its queues; on later runs the durable queues exist already.
            foreach (var service in LocalService.All)
            {
                if (service.Optional && !File.Exists(service.Assembly))
                {
                    services.Skipped.Add(service);
                    continue;
                }

                services._running.Add((service, Start(service, system, issuer, logDirectory)));
            }

            var waiting = services._running.Select(r => r.Service.Name).ToHashSet(StringComparer.Ordinal);
            progress($"Waiting for {string.Join(", ", waiting)}…");
            await Task.WhenAll(services._running.Select(async r =>
            {
                await WaitUntilReadyAsync(r.Service, r.Process, cancellationToken);
                lock (waiting)
                {
                    waiting.Remove(r.Service.Name);
                    progress(waiting.Count == 0 ? "Every service is ready." : $"Waiting for {string.Join(", ", waiting)}…");
                }
            }));

            return services;
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, process) in Enumerable.Reverse(_running))
        {
            process.Terminate();
        }

        foreach (var (_, process) in _running)
        {
            await process.WaitForGroupExitAsync(TimeSpan.FromSeconds(30));
        }

        _running.Clear();
    }

    private static SupervisedProcess Start(LocalService service, LocalSystem system, TokenIssuer issuer, string logDirectory)
    {
        var dll = service.Assembly;
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built: run `dotnet build Transformation.Run.slnf -c Release` (./dev.sh run does).", dll);
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",

            // Six processes share one machine here: the workstation collector (the server one sizes heaps and threads as if each
            // had the machine), no instrumented tier (PGO pays off in long runs), and hot methods recompiled optimised only once a
            // process has compiled nothing new for 5 s (default 0.1 s): while everything starts and the demo loads, that background
            // recompiling competes with the work for the cores. About a quarter less CPU to "Ready." (docs/benchmarks.md, "Run it all").
            ["DOTNET_gcServer"] = "0",
            ["DOTNET_TieredPGO"] = "0",
            ["DOTNET_TC_CallCountingDelayMs"] = "5000",
            ["Service__Name"] = service.Name,
            ["Service__HttpPort"] = service.HttpPort.ToString(),
            ["Service__BindAddress"] = "localhost",
            ["Identity__Issuer"] = issuer.Issuer,
            ["Identity__Audience"] = issuer.Audience,
            ["Identity__SigningKeys__0"] = issuer.PublicKeyPem,
        };
        if (service.IsPortal)
        {
            // The portal calls every service over gRPC and signs demo identities' tokens with the local issuer's key.
            foreach (var other in LocalService.All.Where(s => s.GrpcPort > 0))
            {
                environment[$"Services__{PortalAddressKey(other.Name)}"] = other.GrpcAddress;
            }

            environment["Portal__DevelopmentSigningKey"] = issuer.PrivateKeyPem;
            // Static web assets resolve from the project folder in Development, as `dotnet run` does.
            environment["ASPNETCORE_CONTENTROOT"] = Path.Combine(RepositoryRoot, "services", service.Project);
        }
        else
        {
            var database = system.Postgres.ConnectionString(service.Database);
            // Its appsettings.json (Incentives' event batch sizes, say) sits beside the build, as in the container image.
            environment["ASPNETCORE_CONTENTROOT"] = Path.GetDirectoryName(service.Assembly)!;
            environment["Service__GrpcPort"] = service.GrpcPort.ToString();
            environment["EventBus__Database"] = database;
            environment["EventBus__RabbitMq"] = system.RabbitMq.AmqpUri().ToString();
            environment["Directory__Database"] = database;
            if (service.SiloPort > 0)
            {
                environment["Grains__SiloPort"] = service.SiloPort.ToString();
                environment["Grains__GatewayPort"] = service.GatewayPort.ToString();
            }

            // EndState calls Baselines as itself, with a token it signs with the key every service trusts locally.
            environment["EndState__BaselinesAddress"] = LocalService.Named("baselines").GrpcAddress;
            environment["EndState__ServiceTokenKey"] = issuer.PrivateKeyPem;
            // Survey invitations and reminders go to the local SMTP server, with links to the local portal.
            environment["Baselines__Mail__Host"] = "127.0.0.1";
            environment["Baselines__Mail__Port"] = system.Smtp.Port.ToString();
            environment["Baselines__Mail__PortalAddress"] = $"http://localhost:{LocalService.Named(LocalService.PortalName).HttpPort}/";
        }

        return SupervisedProcess.Start(["dotnet", dll], "TERM", Path.Combine(logDirectory, $"{service.Name}.log"),
            Path.GetDirectoryName(logDirectory)!, environment);
    }

    /// <summary>The portal's Services section names them Directory, Incentives, Baselines, Initiatives, EndState.</summary>
    private static string PortalAddressKey(string name) => name switch
    {
        "endstate" => "EndState",
        _ => char.ToUpperInvariant(name[0]) + name[1..],
    };

    /// <summary>
    /// Another run (or anything else) on a service's ports would answer our health checks and calls: refuse to start instead
    /// (InvalidOperationException naming the port).
    /// </summary>
    public static void EnsurePortsFree()
    {
        foreach (var service in LocalService.All.Where(s => !s.Optional || File.Exists(s.Assembly)))
        {
            foreach (var port in new[] { service.GrpcPort, service.HttpPort, service.SiloPort, service.GatewayPort }.Where(p => p > 0))
            {
                if (!IsFree(port))
                {
                    throw new InvalidOperationException(
                        $"Port {port} ({service.Name}) is in use on 127.0.0.1: is another `transform run` running? Stop it first.");
                }
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static async Task WaitUntilReadyAsync(LocalService service, SupervisedProcess process, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(180))
        {
            if (process.HasExited)
            {
                break;
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{service.HttpPort}/health/ready"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Slow to answer while starting.
            }

            await Task.Delay(250, cancellationToken);
        }

        throw new InvalidOperationException($"{service.Name} did not become ready; the end of its log ({process.LogFile}):\n{process.LogTail()}");
    }
}
