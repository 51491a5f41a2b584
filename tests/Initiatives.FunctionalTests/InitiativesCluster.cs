using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;
using Transformation.EventBus;
using Transformation.Grains;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.ServiceDefaults;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>
/// A cluster of Orleans' test host (InProcessTestCluster, its own membership and in-memory transport) whose silos host the
/// real initiative grains as the service registers them (AddInitiativeGrains, AddGrainDefaults: the store, the outbox,
/// reminders and domain failures) against the test's database.
/// </summary>
public sealed class InitiativesCluster : IAsyncDisposable
{
    private InitiativesCluster(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }

    public static async Task<InitiativesCluster> StartAsync(string database, short silos = 2)
    {
        // The outbox's table comes with the event bus, whose relay and consumers these silos do not run.
        await using (var dataSource = NpgsqlDataSource.Create(database))
        {
            await EventBusSchema.EnsureCreatedAsync(dataSource);
        }

        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.Configure<ServiceOptions>(service => service.Name = "initiatives");
            host.Services.Configure<EventBusOptions>(eventBus => eventBus.Database = database);
            host.Services.AddSingleton<Outbox>();
            host.Services.AddInitiativeGrains();
        });
        builder.ConfigureSilo((_, silo) => silo.AddGrainDefaults(provider => provider.GetRequiredService<InitiativesDatabase>().DataSource));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new InitiativesCluster(cluster);
    }

    /// <summary>The grain factory inside one silo (calls from there, local or remote as the directory decides).</summary>
    public static IGrainFactory Factory(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<IGrainFactory>();

    /// <summary>How many silos hold an activation of the grain (Orleans' management grain asks each one).</summary>
    public Task<int> ActivationsAsync(IAddressable grain) =>
        Cluster.Client.GetGrain<IManagementGrain>(0).GetGrainActivationCount((GrainReference)grain);

    /// <summary>The silo holding the grain's activation.</summary>
    public async Task<InProcessSiloHandle> HostOfAsync(IAddressable grain)
    {
        var management = Cluster.Client.GetGrain<IManagementGrain>(0);
        foreach (var silo in Cluster.GetActiveSilos())
        {
            var local = await management.GetDetailedGrainStatistics(hostsIds: [silo.SiloAddress]);
            if (local.Any(activation => activation.GrainId == grain.GetGrainId()))
            {
                return silo;
            }
        }

        throw new InvalidOperationException($"No silo holds an activation of {grain.GetGrainId()}.");
    }

    public ValueTask DisposeAsync() => Cluster.DisposeAsync();
}
