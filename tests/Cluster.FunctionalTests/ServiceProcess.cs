using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Transformation.ServerProcesses;
using Transformation.TestSupport;

namespace Transformation.Cluster.FunctionalTests;

/// <summary>
/// A service run as its own process from its build (as in production: its Program, its silo), one silo of the service's Orleans
/// cluster whose membership is in Redis. Killed with SIGKILL by <see cref="KillAsync"/>; stopped with SIGTERM on disposal.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly SupervisedProcess _process;

    private ServiceProcess(string name, SupervisedProcess process, int grpcPort, int siloPort)
    {
        Name = name;
        _process = process;
        GrpcPort = grpcPort;
        SiloPort = siloPort;
    }

    public string Name { get; }

    public int GrpcPort { get; }

    /// <summary>The port of its silo's address in the cluster.</summary>
    public int SiloPort { get; }

    public Uri Address => new($"http://127.0.0.1:{GrpcPort}");

    public bool Killed { get; private set; }

    /// <summary>Starts <c>services/{project}</c>'s build with the service's database, the broker's vhost and the cluster's Redis.</summary>
    public static async Task<ServiceProcess> StartAsync(string project, string name, string database, Uri rabbitMq, string redis,
        TestIdentity identity, RunDirectory run, CancellationToken cancellationToken)
    {
        var dll = Path.Combine(Build("RepositoryRoot"), "services", project, "bin", Build("Configuration"), "net10.0", $"Transformation.{project}.dll");
        var (grpcPort, httpPort, siloPort, gatewayPort) = (Ports.Free(), Ports.Free(), Ports.Free(), Ports.Free());
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_gcServer"] = "0",
            ["ASPNETCORE_CONTENTROOT"] = Path.GetDirectoryName(dll)!,
            ["Service__Name"] = name,
            ["Service__GrpcPort"] = Invariant(grpcPort),
            ["Service__HttpPort"] = Invariant(httpPort),
            ["Service__BindAddress"] = "localhost",
            ["Service__ShutdownTimeout"] = "00:00:05",
            ["EventBus__Database"] = database,
            ["EventBus__RabbitMq"] = rabbitMq.ToString(),
            ["EventBus__ReconnectDelay"] = "00:00:00.500",
            ["EventBus__RetryBaseDelay"] = "00:00:00.050",
            ["EventBus__SentRetention"] = "1.00:00:00",
            ["Grains__Clustering"] = "Redis",
            ["Grains__Redis"] = redis,
            ["Grains__SiloPort"] = Invariant(siloPort),
            ["Grains__GatewayPort"] = Invariant(gatewayPort),
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in identity.Settings)
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }

        var process = SupervisedProcess.Start(["dotnet", dll], "TERM", Path.Combine(run.Path, $"{name}-{grpcPort}.log"), run.Path, environment);
        var service = new ServiceProcess(name, process, grpcPort, siloPort);
        try
        {
            await service.WaitUntilReadyAsync(httpPort, cancellationToken);
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL to the process: no shutdown, no goodbye to the cluster.</summary>
    public async Task KillAsync()
    {
        Killed = true;
        await _process.KillAsync();
    }

    public string LogTail() => _process.LogTail(60);

    public async ValueTask DisposeAsync()
    {
        if (Killed)
        {
            return;
        }

        _process.Terminate();
        await _process.WaitForGroupExitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task WaitUntilReadyAsync(int httpPort, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (_process.HasExited)
            {
                break;
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/health/ready"), cancellationToken);
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

        throw new InvalidOperationException($"{Name} did not become ready; the end of its log:\n{_process.LogTail(60)}");
    }

    private static string Build(string key) =>
        typeof(ServiceProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => string.Equals(a.Key, key, StringComparison.Ordinal)).Value!;

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
