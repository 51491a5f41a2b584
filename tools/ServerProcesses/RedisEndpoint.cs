using StackExchange.Redis;

namespace Transformation.ServerProcesses;

/// <summary>A Redis server listening on loopback with a password, whatever started it: a process (<see cref="RedisServer"/>) or a container.</summary>
public class RedisEndpoint(int port, string password)
{
    public string Host { get; } = "127.0.0.1";

    public int Port { get; } = port;

    public string Password { get; } = password;

    /// <summary>The StackExchange.Redis configuration string for this server.</summary>
    public string ConnectionString => $"{Host}:{Port},password={Password}";

    /// <summary>Whether the server answers a PING with this password now.</summary>
    public async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=1000,abortConnect=true");
            await connection.GetDatabase().PingAsync();
            return true;
        }
        catch (RedisConnectionException)
        {
            return false;
        }
    }
}
