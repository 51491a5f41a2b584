using System.Diagnostics;
using System.Security.Cryptography;

namespace Transformation.ServerProcesses;

public sealed record RabbitMqServerOptions
{
    /// <summary>The broker's start script; TRANSFORMATION_RABBITMQ_SERVER overrides the Debian default.</summary>
    public string ServerScript { get; init; } =
        Environment.GetEnvironmentVariable("TRANSFORMATION_RABBITMQ_SERVER") ?? "/usr/lib/rabbitmq/bin/rabbitmq-server";

    /// <summary>A folder to keep between runs; null for a throwaway broker in a temporary folder.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Ports; 0 picks free loopback ports.</summary>
    public int AmqpPort { get; init; }

    public int ManagementPort { get; init; }

    public string UserName { get; init; } = "transformation";

    /// <summary>Null generates one for this server.</summary>
    public string? Password { get; init; }
}

/// <summary>
/// A RabbitMQ broker process with the management plugin, started from the installed binaries with a private Erlang port mapper.
/// </summary>
public sealed class RabbitMqServer : RabbitMqBroker
{
    public const string DebianPackage = "rabbitmq-server";

    private readonly RabbitMqServerOptions _options;
    private readonly RunDirectory? _temporary;
    private readonly string _root;
    private readonly int _distributionPort;
    private readonly int _portMapperPort;
    private SupervisedProcess? _process;

    private RabbitMqServer(RabbitMqServerOptions options, RunDirectory? temporary, string root, int[] ports)
        : base(ports[0], ports[1], options.UserName, options.Password ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(12)))
    {
        _options = options;
        _temporary = temporary;
        _root = root;
        (_distributionPort, _portMapperPort) = (ports[2], ports[3]);
    }

    public override bool IsRunning => _process is not null;

    public static async Task<RabbitMqServer> StartAsync(RabbitMqServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = Prepare(options ?? new RabbitMqServerOptions());
        try
        {
            await server.LaunchProcessAsync(cancellationToken);
            await server.WaitUntilReadyAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The broker's folder, ports and credentials, its process not started yet.</summary>
    private static RabbitMqServer Prepare(RabbitMqServerOptions options)
    {
        Prerequisites.RequireFile(options.ServerScript, "The RabbitMQ server", DebianPackage);
        Prerequisites.RequireOnPath("epmd", "erlang-base");

        var temporary = options.DataDirectory is null ? RunDirectory.Create() : null;
        try
        {
            var root = temporary?.Subdirectory("rabbitmq") ?? Directory.CreateDirectory(options.DataDirectory!).FullName;
            var free = FreePorts.Take(4);
            var ports = new[] { options.AmqpPort, options.ManagementPort, 0, 0 }
                .Select((port, i) => port != 0 ? port : free[i]).ToArray();
            if (options.DataDirectory is not null)
            {
                // A kept broker keeps its node ports and its generated password next to its data.
                ports = KeptPorts(root, ports);
                options = options with { Password = options.Password ?? KeptPassword(root) };
            }

            return new RabbitMqServer(options, temporary, root, ports);
        }
        catch
        {
            temporary?.Dispose();
            throw;
        }
    }

    /// <summary>Kills the broker, as a crash or an outage would; the data stays for <see cref="RestartAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (_process is null)
        {
            return;
        }

        await _process.KillAsync();
        _process = null;
    }

    /// <summary>Stops the broker gracefully (SIGTERM to the node); the data stays.</summary>
    public override async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        _process.SignalGroup(Libc.SIGTERM);
        await _process.WaitForGroupExitAsync(TimeSpan.FromSeconds(60));
        _process = null;
    }

    /// <summary>Starts the broker again on the same ports with the same data, after a stop or a kill.</summary>
    public override async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is null)
        {
            await LaunchProcessAsync(cancellationToken);
            await WaitUntilReadyAsync(cancellationToken);
        }
    }

    protected override async ValueTask DisposeBrokerAsync()
    {
        if (_temporary is null)
        {
            await StopAsync();
        }
        else
        {
            await KillAsync(); // Throwaway data: no need to wait for a graceful stop.
        }

        _temporary?.Dispose();
    }

    private async Task LaunchProcessAsync(CancellationToken cancellationToken)
    {
        // Another broker there would answer our readiness checks for this one: refuse instead.
        if (FreePorts.IsListening(AmqpPort) || FreePorts.IsListening(ManagementPort))
        {
            throw new InvalidOperationException(
                $"Port {AmqpPort} or {ManagementPort} is in use on 127.0.0.1 (another RabbitMQ, or a previous run still stopping?): RabbitMQ was not started.");
        }

        var config = Path.Combine(_root, "rabbitmq.conf");
        await File.WriteAllTextAsync(config, $"""
            listeners.tcp.default = 127.0.0.1:{AmqpPort}
            management.tcp.ip = 127.0.0.1
            management.tcp.port = {ManagementPort}
            default_user = {UserName}
            default_pass = {Password}
            loopback_users = none
            log.console = true
            log.file = false
            """, cancellationToken);
        var plugins = Path.Combine(_root, "enabled_plugins");
        await File.WriteAllTextAsync(plugins, "[rabbitmq_management].", cancellationToken);

        // The node name is tied to the data: a kept broker must keep it.
        var nodeName = _temporary is null ? "transformation@localhost" : $"test-{AmqpPort}@localhost";
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOME"] = _root, // Erlang writes its cookie here, not in the user's home.
            ["RABBITMQ_NODENAME"] = nodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = AmqpPort.ToString(),
            ["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(),
            ["ERL_EPMD_PORT"] = _portMapperPort.ToString(),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}", // distribution on loopback only
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_root, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_root, "log"),
            ["RABBITMQ_CONFIG_FILE"] = config,
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = plugins,
            ["RABBITMQ_PID_FILE"] = Path.Combine(_root, "rabbitmq.pid"),
            ["RABBITMQ_LOGS"] = "-",
        };

        // A port mapper of our own, in the broker's process group: the one Erlang would start daemonizes and outlives everything.
        var epmd = Prerequisites.RequireOnPath("epmd", "erlang-base");
        string[] commandLine = ["/bin/sh", "-c", "\"$1\" -port \"$2\" & exec \"$3\"", "broker", epmd, _portMapperPort.ToString(), _options.ServerScript];
        _process = SupervisedProcess.Start(commandLine, "TERM", Path.Combine(_root, "rabbitmq.log"), _temporary?.Path ?? _root, environment);
    }

    /// <summary>Waits until the broker accepts AMQP connections and its management API answers; kills it when it does not within 90 s.</summary>
    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var process = _process ?? throw new InvalidOperationException("The broker is not started.");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited || waited.Elapsed > TimeSpan.FromSeconds(90))
            {
                var log = process.LogTail();
                await KillAsync();
                throw new InvalidOperationException($"RabbitMQ did not start on port {AmqpPort}:\n{log}");
            }

            if (await IsReadyAsync(cancellationToken))
            {
                return;
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    private static int[] KeptPorts(string root, int[] chosen)
    {
        var file = Path.Combine(root, "ports");
        if (File.Exists(file))
        {
            var kept = File.ReadAllText(file).Split(',').Select(int.Parse).ToArray();
            return [chosen[0], chosen[1], kept[2], kept[3]];
        }

        File.WriteAllText(file, string.Join(',', chosen));
        return chosen;
    }

    private static string KeptPassword(string root)
    {
        var file = Path.Combine(root, "password");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, Convert.ToHexString(RandomNumberGenerator.GetBytes(12)));
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return File.ReadAllText(file).Trim();
    }
}
