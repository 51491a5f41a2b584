using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using System.Net;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.Messaging;
using StackExchange.Redis;
using Transformation.ServiceDefaults;

namespace Transformation.Grains;

public static class Extensions
{
    /// <summary>
    /// Co-hosts an Orleans silo in the service: alone on localhost, or one of the service's cluster with its membership in Redis
    /// (in Kubernetes, with the pod's address and labels); the cluster and service id from Service:Name, its ports and clustering
    /// from the "Grains" section, durable reminders in the service's PostgreSQL database
    /// (<paramref name="database"/>), and domain failures (<see cref="DomainException"/>) carried across grain calls.
    /// </summary>
    public static IHostApplicationBuilder AddGrains(this IHostApplicationBuilder builder, Func<IServiceProvider, NpgsqlDataSource> database,
        Action<ISiloBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(database);
        var options = builder.AddValidatedOptions<GrainsOptions>(GrainsOptions.Section);
        var name = builder.Configuration[$"{ServiceOptions.Section}:{nameof(ServiceOptions.Name)}"];
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new InvalidOperationException("Service:Name is required: it names the service's Orleans cluster.");
        }

        // A call that found no live silo (one died and the cluster has not declared it dead yet) or timed out is retried, not failed.
        builder.Services.AddTransientFailure(e => e is OrleansMessageRejectionException or ConnectionFailedException or TimeoutException);
        builder.Services.AddHealthChecks().AddCheck<SiloReadiness>(SiloReadiness.Name, tags: [ServiceDefaults.Extensions.ReadyTag]);
        builder.UseOrleans(silo =>
        {
            UseClustering(silo, options, name);
            silo.AddGrainDefaults(database);
            configure?.Invoke(silo);
        });
        return builder;
    }

    /// <summary>
    /// What every silo of ours has whatever its clustering (the services' silos, and the grain tests' clusters of
    /// Orleans' test host): durable reminders in the service's PostgreSQL database (<paramref name="database"/>), kept
    /// per service id, and domain failures (<see cref="DomainException"/>) carried across grain calls.
    /// </summary>
    public static ISiloBuilder AddGrainDefaults(this ISiloBuilder silo, Func<IServiceProvider, NpgsqlDataSource> database)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(database);
        silo.AddReminders();
        silo.Services.AddSingleton<IReminderTable>(provider =>
            new PostgresReminderTable(database(provider), provider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId));
        silo.AddIncomingGrainCallFilter<DomainFailures>();
        silo.AddOutgoingGrainCallFilter<DomainFailures>();
        return silo;
    }

    private static void UseClustering(ISiloBuilder silo, GrainsOptions options, string name)
    {
        if (options.Clustering == GrainsClustering.Localhost)
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: name, clusterId: name);
            return;
        }

        // Validated at start (GrainsOptions), but the silo is configured before that: fail here with the same words.
        if (string.IsNullOrWhiteSpace(options.Redis))
        {
            throw new InvalidOperationException("Grains:Redis is required when Grains:Clustering is Redis: it is the membership store's address.");
        }

        silo.UseRedisClustering(redis => redis.ConfigurationOptions = ConfigurationOptions.Parse(options.Redis));
        silo.Configure<ClusterOptions>(cluster => (cluster.ServiceId, cluster.ClusterId) = (name, name));
        if (options.Kubernetes)
        {
            // The pod's IP (POD_IP) and name; the cluster's ids from the pod's orleans/serviceId and orleans/clusterId labels.
            silo.ConfigureEndpoints(options.SiloPort, options.GatewayPort);
            silo.UseKubernetesHosting();
        }
        else
        {
            silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort);
        }
    }
}
