using System.Globalization;
using System.Security.Cryptography;
using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway Redis server (a class or assembly fixture), removed afterwards: a container when a Docker engine answers
/// (<see cref="ServerContainers"/>), a server process otherwise.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisEndpoint? _server;
    private IAsyncDisposable? _owner;

    public RedisEndpoint Server => _server ?? throw new InvalidOperationException("The Redis fixture has not started.");

    public async ValueTask InitializeAsync()
    {
        if (!ServerContainers.InUse)
        {
            var process = await RedisServer.StartAsync();
            (_server, _owner) = (process, process);
            return;
        }

        var server = new RedisEndpoint(Ports.Free(), Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));
        _owner = await ServerContainers.StartAsync("redis",
            builder => builder.WithCommand("--port", server.Port.ToString(CultureInfo.InvariantCulture), "--requirepass", server.Password),
            server.AnswersAsync, TimeSpan.FromSeconds(30));
        _server = server;
    }

    public async ValueTask DisposeAsync()
    {
        if (_owner is not null)
        {
            await _owner.DisposeAsync();
        }
    }
}
