using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.EventBus;
using Transformation.ServiceDefaults;

namespace Transformation.Actors;

public static class Extensions
{
    /// <summary>The actor host from the "Actors" section; register each actor with <see cref="AddActor{TInterface, TActor}"/>.</summary>
    public static IHostApplicationBuilder AddActors(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.AddValidatedOptions<ActorOptions>(ActorOptions.Section);
        var services = builder.Services;
        services.AddSingleton<ActorMetrics>();
        services.AddSingleton<ActorReminders>();
        services.AddSingleton<ActorFactory>();
        services.AddSingleton(provider => new ActorHost(provider, provider.GetServices<ActorRegistration>(), provider.GetRequiredService<IActorStateStore>(),
            provider.GetRequiredService<ActorReminders>(), provider.GetRequiredService<ActorMetrics>(),
            provider.GetRequiredService<IOptions<ActorOptions>>(), provider.GetRequiredService<ILogger<ActorHost>>()));
        if (options.Storage == ActorStorage.PostgreSql)
        {
            services.AddSingleton(provider => new ActorDatabase(
                NpgsqlDataSource.Create(provider.GetRequiredService<IOptions<ActorOptions>>().Value.Database!)));
            services.AddSingleton<IActorStateStore>(provider => new PostgresActorStateStore(
                provider.GetRequiredService<ActorDatabase>().DataSource, provider.GetService<Outbox>()));
            services.AddHostedService<ActorSchema>();
            services.AddHostedService(provider => provider.GetRequiredService<ActorHost>());
            services.AddHostedService<ReminderScanner>();
        }
        else
        {
            services.AddSingleton<IActorStateStore, InMemoryActorStateStore>();
            services.AddHostedService(provider => provider.GetRequiredService<ActorHost>());
        }

        return builder;
    }

    /// <summary>Binds an actor interface to its class; <paramref name="typeName"/> names its stored state, so never change it.</summary>
    public static IServiceCollection AddActor<TInterface, TActor>(this IServiceCollection services, string typeName)
        where TInterface : IActor
        where TActor : ActorBase, TInterface
    {
        ArgumentException.ThrowIfNullOrEmpty(typeName);
        services.AddSingleton(new ActorRegistration(typeName, typeof(TInterface), typeof(TActor)));
        return services;
    }

    /// <summary>Creates the actor tables before the host and the reminder scanner start.</summary>
    private sealed class ActorSchema(ActorDatabase database) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await using var command = database.DataSource.CreateCommand(PostgresActorStateStore.Schema + ActorReminders.Schema);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
