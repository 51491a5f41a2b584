using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Transformation.ServiceDefaults;

namespace Transformation.Grains;

public static class Extensions
{
    /// <summary>
    /// Co-hosts one Orleans silo in the service: clustered on localhost for now (one silo per service), the cluster and service
    /// id from Service:Name, its ports from the "Grains" section, durable reminders in the service's PostgreSQL database
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

        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: name, clusterId: name);
            silo.AddReminders();
            silo.Services.AddSingleton<IReminderTable>(provider =>
                new PostgresReminderTable(database(provider), provider.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId));
            silo.AddIncomingGrainCallFilter<DomainFailures>();
            silo.AddOutgoingGrainCallFilter<DomainFailures>();
            configure?.Invoke(silo);
        });
        return builder;
    }
}
