using System.Diagnostics;
using Npgsql;

namespace Transformation.ServerProcesses;

public sealed record PostgresServerOptions
{
    /// <summary>Folder holding initdb and postgres; TRANSFORMATION_POSTGRES_BIN overrides the Debian default.</summary>
    public string BinDirectory { get; init; } =
        Environment.GetEnvironmentVariable("TRANSFORMATION_POSTGRES_BIN") ?? "/usr/lib/postgresql/15/bin";

    /// <summary>A data folder to keep between runs; null for a throwaway server in a temporary folder.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>0 picks a free loopback port.</summary>
    public int Port { get; init; }

    /// <summary>
    /// Throwaway test servers skip fsync: a crash of the machine loses them anyway. A kept server (and a
    /// benchmark that must measure real commit costs) runs durable.
    /// </summary>
    public bool Durable { get; init; }

    public int MaxConnections { get; init; } = 400;
}

/// <summary>A PostgreSQL server process started from the installed binaries, listening on loopback.</summary>
public sealed class PostgresServer : PostgresEndpoint, IAsyncDisposable
{
    public const string DebianPackage = "postgresql-15";

    private readonly RunDirectory? _temporary;
    private readonly string _dataDirectory;
    private readonly string _socketDirectory;
    private SupervisedProcess? _process;

    private PostgresServer(RunDirectory? temporary, string dataDirectory, string socketDirectory, int port)
        : base(port)
    {
        _temporary = temporary;
        _dataDirectory = dataDirectory;
        _socketDirectory = socketDirectory;
    }

    public string DataDirectory => _dataDirectory;

    public static async Task<PostgresServer> StartAsync(PostgresServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresServerOptions();
        var postgres = Prerequisites.RequireFile(Path.Combine(options.BinDirectory, "postgres"), "The PostgreSQL 15 server", DebianPackage);
        var initdb = Prerequisites.RequireFile(Path.Combine(options.BinDirectory, "initdb"), "PostgreSQL's initdb", DebianPackage);
        var runAs = RunAsPostgresUser();

        var temporary = options.DataDirectory is null ? RunDirectory.Create() : null;
        try
        {
            var root = temporary?.Subdirectory("postgres") ?? Directory.CreateDirectory(options.DataDirectory!).FullName;
            var dataDirectory = Path.Combine(root, "data");
            var socketDirectory = Path.Combine(root, "socket");
            Directory.CreateDirectory(socketDirectory);
            await GiveToServerUserAsync(runAs, root, cancellationToken);

            if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
            {
                await RunToEndAsync([.. runAs, initdb, "-D", dataDirectory, "-U", SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                    cancellationToken);
            }

            var port = options.Port != 0 ? options.Port : FreePorts.Take(1)[0];
            var server = new PostgresServer(temporary, dataDirectory, socketDirectory, port);
            await server.StartProcessAsync(runAs, postgres, options, cancellationToken);
            return server;
        }
        catch
        {
            temporary?.Dispose();
            throw;
        }
    }

    /// <summary>Stops the server with PostgreSQL's fast shutdown (sessions closed, data flushed).</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        _process.Signal(Libc.SIGINT);
        await _process.WaitForGroupExitAsync(TimeSpan.FromSeconds(30));
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _temporary?.Dispose();
    }

    private async Task StartProcessAsync(string[] runAs, string postgres, PostgresServerOptions options, CancellationToken cancellationToken)
    {
        string[] settings =
        [
            "-c", "listen_addresses=127.0.0.1",
            "-c", $"unix_socket_directories={_socketDirectory}",
            "-c", $"max_connections={options.MaxConnections}",
            "-c", $"fsync={(options.Durable ? "on" : "off")}",
            "-c", $"full_page_writes={(options.Durable ? "on" : "off")}",
            "-c", "logging_collector=off",
        ];
        // Another server there (a previous run still stopping, say) would answer the readiness check below for ours, which then
        // exits on the data folder's lock: refuse instead.
        if (FreePorts.IsListening(Port))
        {
            throw new InvalidOperationException($"Port {Port} is in use on 127.0.0.1 (another PostgreSQL, or a previous run still stopping?): PostgreSQL was not started.");
        }

        var logFile = Path.Combine(Path.GetDirectoryName(_dataDirectory)!, "postgres.log");
        _process = SupervisedProcess.Start([.. runAs, postgres, "-D", _dataDirectory, "-p", Port.ToString(), .. settings],
            "INT", logFile, _temporary?.Path ?? _dataDirectory);

        var waited = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"PostgreSQL exited while starting on port {Port}:\n{_process.LogTail()}");
            }

            if (await AcceptsConnectionsAsync(cancellationToken))
            {
                return;
            }

            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"PostgreSQL did not accept connections on port {Port} within 60 s:\n{_process.LogTail()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>PostgreSQL refuses to run as root; then it runs as the 'postgres' user the Debian package creates.</summary>
    private static string[] RunAsPostgresUser()
    {
        if (!Libc.IsRoot)
        {
            return [];
        }

        if (!File.ReadLines("/etc/passwd").Any(line => line.StartsWith("postgres:", StringComparison.Ordinal)))
        {
            throw new MissingPrerequisiteException(
                $"Running as root, PostgreSQL must run as the 'postgres' user, which does not exist. Install the Debian package '{DebianPackage}' (apt-get install {DebianPackage}), which creates it.",
                DebianPackage);
        }

        return [Prerequisites.RequireOnPath("setpriv", "util-linux"), "--reuid=postgres", "--regid=postgres", "--init-groups", "--"];
    }

    private static async Task GiveToServerUserAsync(string[] runAs, string path, CancellationToken cancellationToken)
    {
        if (runAs.Length > 0)
        {
            await RunToEndAsync(["chown", "-R", "postgres:postgres", path], cancellationToken);
        }
    }

    private static async Task RunToEndAsync(string[] commandLine, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(commandLine[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in commandLine.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', commandLine)} failed ({process.ExitCode}):\n{await output}{await errors}");
        }
    }
}
