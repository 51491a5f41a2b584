using System.Security.Cryptography;

namespace Transformation.ServerProcesses;

/// <summary>
/// A throwaway Redis server process (the Orleans clusters' membership store in tests), started from the installed binary on a
/// free loopback port, with a generated password and nothing written to disk.
/// </summary>
public sealed class RedisServer : RedisEndpoint, IAsyncDisposable
{
    public const string DebianPackage = "redis-server";

    private readonly RunDirectory _run;
    private readonly SupervisedProcess _process;

    private RedisServer(RunDirectory run, SupervisedProcess process, int port, string password)
        : base(port, password)
    {
        _run = run;
        _process = process;
    }

    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var binary = Prerequisites.RequireOnPath("redis-server", DebianPackage);
        var run = RunDirectory.Create();
        try
        {
            var port = FreePorts.Take(1)[0];
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            var directory = run.Subdirectory("redis");
            // The password goes in a file, not on the command line where `ps` shows it.
            var config = Path.Combine(directory, "redis.conf");
            await File.WriteAllTextAsync(config, $"""
                bind 127.0.0.1
                port {port}
                requirepass {password}
                dir {directory}
                save ""
                appendonly no
                daemonize no
                """, cancellationToken);
            var process = SupervisedProcess.Start([binary, config], "TERM", Path.Combine(directory, "redis.log"), run.Path);
            var server = new RedisServer(run, process, port, password);
            await server.WaitUntilReadyAsync(cancellationToken);
            return server;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Terminate();
        await _process.WaitForGroupExitAsync(TimeSpan.FromSeconds(10));
        _run.Dispose();
    }

    private Task WaitUntilReadyAsync(CancellationToken cancellationToken) => _process.WaitUntilAnswersAsync("Redis", Port, AnswersAsync, cancellationToken);
}
