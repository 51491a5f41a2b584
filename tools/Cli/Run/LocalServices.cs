using System.Diagnostics;
using System.Reflection;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Run;

/// <summary>A service of the local run: its project, its database and its two ports.</summary>
public sealed record LocalService(string Name, string Project, int GrpcPort, int HttpPort)
{
    /// <summary>
    /// Every service, in start order: the Directory first (the others keep copies of it), consumers before the
    /// producers whose events they keep (a queue only receives what is published after it exists).
    /// </summary>
    public static IReadOnlyList<LocalService> All { get; } =
    [
        new("directory", "Directory.Api", 5060, 5160),
        new("baselines", "Baselines.Api", 5080, 5180),
        new("initiatives", "Initiatives.Api", 5090, 5190),
        new("incentives", "Incentives.Api", 5070, 5170),
        new("endstate", "EndState.Api", 5100, 5200),
    ];

    public string Database => Name;
}

/// <summary>Starts the services as processes that die with this one, and waits until each is ready.</summary>
public sealed class LocalServices : IAsyncDisposable
{
    private readonly List<(LocalService Service, SupervisedProcess Process)> _running = [];

    public IReadOnlyList<LocalService> Running => _running.Select(r => r.Service).ToList();

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
            foreach (var service in LocalService.All)
            {
                progress($"Starting {service.Name}…");
                await EnsureDatabaseAsync(system.Postgres, service.Database, cancellationToken);
                var process = Start(service, system, issuer, logDirectory);
                services._running.Add((service, process));
                await WaitUntilReadyAsync(service, process, cancellationToken);
            }

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
        var dll = Path.Combine(RepositoryRoot, "services", service.Project, "bin", "Release", "net10.0", $"Transformation.{service.Project}.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built: run `dotnet build Transformation.sln -c Release` (./dev.sh run does).", dll);
        }

        var database = system.Postgres.ConnectionString(service.Database);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["Service__Name"] = service.Name,
            ["Service__GrpcPort"] = service.GrpcPort.ToString(),
            ["Service__HttpPort"] = service.HttpPort.ToString(),
            ["Service__BindAddress"] = "localhost",
            ["EventBus__Database"] = database,
            ["EventBus__RabbitMq"] = system.RabbitMq.AmqpUri().ToString(),
            ["Actors__Database"] = database,
            ["Directory__Database"] = database,
            ["Identity__Issuer"] = issuer.Issuer,
            ["Identity__Audience"] = issuer.Audience,
            ["Identity__SigningKeys__0"] = issuer.PublicKeyPem,

            // EndState calls Baselines as itself, with a token it signs with the key every service trusts locally.
            ["EndState__BaselinesAddress"] = $"http://127.0.0.1:{LocalService.All.Single(s => string.Equals(s.Name, "baselines", StringComparison.Ordinal)).GrpcPort}",
            ["EndState__ServiceTokenKey"] = issuer.PrivateKeyPem,
        };
        return SupervisedProcess.Start(["dotnet", dll], "TERM", Path.Combine(logDirectory, $"{service.Name}.log"),
            Path.GetDirectoryName(logDirectory)!, environment);
    }

    private static async Task EnsureDatabaseAsync(PostgresServer postgres, string name, CancellationToken cancellationToken)
    {
        if (!await postgres.DatabaseExistsAsync(name, cancellationToken))
        {
            await postgres.CreateDatabaseAsync(name, cancellationToken);
        }
    }

    private static async Task WaitUntilReadyAsync(LocalService service, SupervisedProcess process, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(90))
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
