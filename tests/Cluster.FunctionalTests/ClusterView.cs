using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Transformation.Cluster.FunctionalTests;

/// <summary>An Orleans client of a service's cluster (found through its Redis membership table), to see where grains are active.</summary>
internal sealed class ClusterView : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterView(IHost host) => _host = host;

    public static async Task<ClusterView> ConnectAsync(string service, string redis, CancellationToken cancellationToken)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client
            .UseRedisClustering(redis)
            .Configure<ClusterOptions>(cluster => (cluster.ServiceId, cluster.ClusterId) = (service, service)));
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new ClusterView(host);
    }

    /// <summary>The silo ports of every activation of the grain of that class and key, across the cluster's active silos.</summary>
    public async Task<IReadOnlyList<int>> ActivationsAsync(string grainClass, string key)
    {
        var management = _host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
        var silos = await management.GetHosts(onlyActive: true);
        var statistics = await management.GetDetailedGrainStatistics(null, [.. silos.Keys]);
        return [.. statistics
            .Where(s => s.GrainType.Contains(grainClass, StringComparison.Ordinal) && string.Equals(s.GrainId.Key.ToString(), key, StringComparison.Ordinal))
            .Select(s => s.SiloAddress.Endpoint.Port)];
    }

    /// <summary>The silo ports the membership table lists as active.</summary>
    public async Task<IReadOnlyList<int>> ActiveSilosAsync()
    {
        var management = _host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
        return [.. (await management.GetHosts(onlyActive: true)).Keys.Select(s => s.Endpoint.Port).Order()];
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
