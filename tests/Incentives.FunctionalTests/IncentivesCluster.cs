using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Transformation.EventBus;
using Transformation.Grains;
using Transformation.Incentives.Api;
using Transformation.Incentives.Api.Infrastructure;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// A cluster of Orleans' test host (InProcessTestCluster, its own membership and in-memory transport) whose silos host the
/// real ledger grains as the service registers them (AddLedgerGrains, AddGrainDefaults) against the test's database.
/// </summary>
public sealed class IncentivesCluster : IAsyncDisposable
{
    private IncentivesCluster(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }

    public static async Task<IncentivesCluster> StartAsync(string database, short silos = 2)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.Configure<EventBusOptions>(eventBus => eventBus.Database = database);
            host.Services.AddLedgerGrains();
        });
        builder.ConfigureSilo((_, silo) => silo.AddGrainDefaults(provider => provider.GetRequiredService<IncentivesDatabase>().DataSource));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new IncentivesCluster(cluster);
    }

    /// <summary>The grain factory inside one silo (calls from there, local or remote as the directory decides).</summary>
    public static IGrainFactory Factory(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<IGrainFactory>();

    /// <summary>How many silos hold an activation of the grain (Orleans' management grain asks each one).</summary>
    public Task<int> ActivationsAsync(IAddressable grain) =>
        Cluster.Client.GetGrain<IManagementGrain>(0).GetGrainActivationCount((GrainReference)grain);

    public ValueTask DisposeAsync() => Cluster.DisposeAsync();
}
