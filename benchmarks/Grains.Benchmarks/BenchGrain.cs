using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Storage;

namespace Transformation.Grains.Benchmarks;

public interface IBenchGrain : IGrainWithStringKey
{
    Task PingAsync();

    Task<long> IncrementAsync();

    Task<long> AddAsync(long amount);
}

/// <summary>
/// A counter: in memory (the cost of addressing, the message and the turn), or written through to PostgreSQL as the services'
/// grains write theirs (explicit persistence, one version-checked upsert per call, committed before the call answers).
/// </summary>
public sealed class BenchGrain(BenchStore store) : Grain, IBenchGrain
{
    private long _inMemory;
    private long _count;
    private long _version;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (store.Enabled)
        {
            (_count, _version) = await store.ReadAsync(this.GetPrimaryKeyString(), cancellationToken);
        }
    }

    public Task PingAsync() => Task.CompletedTask;

    public Task<long> IncrementAsync() => Task.FromResult(++_inMemory);

    public async Task<long> AddAsync(long amount)
    {
        _version = await store.WriteAsync(this.GetPrimaryKeyString(), _count + amount, _version);
        _count += amount;
        return _count;
    }
}

/// <summary>The write-through grains' table; disabled for the in-memory measurements.</summary>
public sealed class BenchStore(NpgsqlDataSource? dataSource)
{
    public bool Enabled => dataSource is not null;

    public async Task EnsureCreatedAsync()
    {
        await using var command = dataSource!.CreateCommand("CREATE TABLE IF NOT EXISTS bench_state (id text PRIMARY KEY, count bigint NOT NULL, version bigint NOT NULL)");
        await command.ExecuteNonQueryAsync();
    }

    public async Task<(long Count, long Version)> ReadAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource!.CreateCommand("SELECT count, version FROM bench_state WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    public async Task<long> WriteAsync(string id, long count, long version)
    {
        await using var command = dataSource!.CreateCommand("""
            INSERT INTO bench_state (id, count, version) VALUES ($1, $2, 1)
            ON CONFLICT (id) DO UPDATE SET count = $2, version = bench_state.version + 1 WHERE bench_state.version = $3
            RETURNING version
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = count });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
        return await command.ExecuteScalarAsync() is long next
            ? next
            : throw new InconsistentStateException($"bench {id}: stored version is not {version}.");
    }
}

/// <summary>A service-like host with its silo (AddGrains: localhost clustering, our reminder table, the call filters).</summary>
internal sealed class BenchHost : IAsyncDisposable
{
    private readonly IHost _host;

    private BenchHost(IHost host) => _host = host;

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    public static async Task<BenchHost> StartAsync(string connectionString, bool writeThrough)
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        var store = new BenchStore(writeThrough ? dataSource : null);
        if (writeThrough)
        {
            await store.EnsureCreatedAsync();
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "bench",
            ["Grains:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        });
        builder.Services.AddSingleton(store);
        builder.AddGrains(_ => dataSource);
        var host = builder.Build();
        await host.StartAsync();
        return new BenchHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
