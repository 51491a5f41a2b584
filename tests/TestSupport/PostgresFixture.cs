using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway PostgreSQL server per test run (an assembly fixture:
/// <c>[assembly: AssemblyFixture(typeof(PostgresFixture))]</c>), removed afterwards: a container when a Docker engine
/// answers (<see cref="ServerContainers"/>), a server process otherwise.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresEndpoint? _server;
    private IAsyncDisposable? _owner;

    public PostgresEndpoint Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public async ValueTask InitializeAsync()
    {
        if (!ServerContainers.InUse)
        {
            var process = await PostgresServer.StartAsync();
            (_server, _owner) = (process, process);
            return;
        }

        var server = new PostgresEndpoint(Ports.Free());
        _owner = await ServerContainers.StartAsync("postgres", builder => builder
                // Throwaway data: no fsync, as for the server processes.
                .WithCommand("-p", server.Port.ToString(), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400",
                    "-c", "fsync=off", "-c", "full_page_writes=off")
                // Parallel queries share memory through /dev/shm, which Docker limits to 64 MB.
                .WithCreateParameterModifier(parameters => parameters.HostConfig!.ShmSize = 512L * 1024 * 1024),
            server.AcceptsConnectionsAsync, TimeSpan.FromSeconds(60));
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

/// <summary>A database of its own for one test class (a class fixture), dropped after the class.</summary>
public sealed class PostgresDatabase(PostgresFixture postgres) : IAsyncLifetime
{
    public string Name { get; } = TestNames.Unique("db").ToLowerInvariant();

    public string ConnectionString { get; private set; } = "";

    public PostgresEndpoint Server => postgres.Server;

    public async ValueTask InitializeAsync() => ConnectionString = await postgres.Server.CreateDatabaseAsync(Name);

    public async ValueTask DisposeAsync() => await postgres.Server.DropDatabaseAsync(Name);
}
