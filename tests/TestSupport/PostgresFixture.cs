using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway PostgreSQL server per test run (an assembly fixture:
/// <c>[assembly: AssemblyFixture(typeof(PostgresFixture))]</c>), removed afterwards.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public async ValueTask InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A database of its own for one test class (a class fixture), dropped after the class.</summary>
public sealed class PostgresDatabase(PostgresFixture postgres) : IAsyncLifetime
{
    public string Name { get; } = TestNames.Unique("db").ToLowerInvariant();

    public string ConnectionString { get; private set; } = "";

    public PostgresServer Server => postgres.Server;

    public async ValueTask InitializeAsync() => ConnectionString = await postgres.Server.CreateDatabaseAsync(Name);

    public async ValueTask DisposeAsync() => await postgres.Server.DropDatabaseAsync(Name);
}
