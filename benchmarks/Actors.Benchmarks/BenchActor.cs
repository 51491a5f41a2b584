using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Transformation.Actors.Benchmarks;

public sealed record BenchState(long Count)
{
    public BenchState()
        : this(0)
    {
    }
}

public interface IBenchActor : IActor
{
    Task PingAsync();

    Task<long> IncrementAsync();

    Task<long> AddAsync(long amount);
}

public sealed class BenchActor : Actor<BenchState>, IBenchActor
{
    private long _inMemory;

    public Task PingAsync() => Task.CompletedTask;

    public Task<long> IncrementAsync() => Task.FromResult(++_inMemory);

    public async Task<long> AddAsync(long amount)
    {
        await WriteStateAsync(new BenchState(State.Count + amount));
        return State.Count;
    }
}

internal sealed class BenchHost : IAsyncDisposable
{
    private readonly IHost _host;

    private BenchHost(IHost host) => _host = host;

    public ActorFactory Actors => _host.Services.GetRequiredService<ActorFactory>();

    public ActorHost ActorHost => _host.Services.GetRequiredService<ActorHost>();

    public static async Task<BenchHost> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddActors();
        builder.Services.AddActor<IBenchActor, BenchActor>("bench");
        var host = builder.Build();
        await host.StartAsync();
        return new BenchHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
