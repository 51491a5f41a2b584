using Dapr;
using Dapr.Client;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults;

namespace Transformation.EventBus;

public static class Extensions
{
    /// <summary>
    /// The event bus from the "EventBus" section: the outbox and its relay, the schema at start-up, and, in
    /// RabbitMq mode, the consumers of the subscriptions (<see cref="AddSubscription{TEvent, THandler}"/>).
    /// In DaprSidecar mode the relay publishes through the sidecar with DaprClient (gRPC, at DAPR_GRPC_ENDPOINT or
    /// DAPR_GRPC_PORT, which the sidecar injector sets) and <c>app.MapEventBus()</c> serves its deliveries.
    /// </summary>
    public static IHostApplicationBuilder AddEventBus(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var service = builder.AddValidatedOptions<ServiceOptions>(ServiceOptions.Section);
        var options = builder.AddValidatedOptions<EventBusOptions>(EventBusOptions.Section);
        var services = builder.Services;

        services.TryAddSingleton(_ => new ServiceTelemetry(service.Name));
        services.AddSingleton<EventBusMetrics>();
        services.AddSingleton<EventBusDataSource>();
        services.AddSingleton<Outbox>();
        services.TryAddSingleton<TransientFailures>();
        services.AddSingleton<EventProcessor>();
        services.AddSingleton<DeadLetters>();
        if (options.Mode == EventBusMode.DaprSidecar)
        {
            services.AddDaprClient((provider, dapr) => dapr.UseGrpcEndpoint(DaprDefaults.GetDefaultGrpcEndpoint(provider.GetRequiredService<IConfiguration>())));
        }

        services.AddSingleton<IEventPublisher>(provider =>
        {
            var current = provider.GetRequiredService<IOptions<EventBusOptions>>().Value;
            return current.Mode == EventBusMode.DaprSidecar
                ? new DaprSidecarPublisher(provider.GetRequiredService<DaprClient>(), current.PubSubName)
                : new RabbitMqPublisher(current.RabbitMq ?? throw new OptionsValidationException(
                    EventBusOptions.Section, typeof(EventBusOptions), ["EventBus:RabbitMq is required in RabbitMq mode."]), service.Name);
        });

        // Registered before the relay and the consumers, so that the tables exist when they start.
        services.AddHostedService<SchemaCreator>();
        if (options.RelayEnabled)
        {
            services.AddHostedService<OutboxRelay>();
        }

        if (options.Mode == EventBusMode.RabbitMq)
        {
            services.AddHostedService<RabbitMqSubscriber>();
        }

        return builder;
    }

    /// <summary>Subscribes this service to <typeparamref name="TEvent"/>'s topic; <typeparamref name="THandler"/> is resolved per delivery, in a scope.</summary>
    public static IServiceCollection AddSubscription<TEvent, THandler>(this IServiceCollection services)
        where TEvent : IMessage<TEvent>, new()
        where THandler : class, IHandleEvent<TEvent>
    {
        var topic = CheckNewTopic<TEvent>(services);
        var parser = new MessageParser<TEvent>(() => new TEvent());
        services.AddScoped<THandler>();
        services.AddSingleton(new Subscription(
            topic,
            typeof(TEvent),
            cloudEvent => cloudEvent.DataAs(parser),
            (provider, message, context, cancellationToken) =>
                provider.GetRequiredService<THandler>().HandleAsync((TEvent)message, context, cancellationToken)));
        return services;
    }

    /// <summary>
    /// Subscribes this service to <typeparamref name="TEvent"/>'s topic with a handler that takes the new events of a
    /// delivery batch in one call, in the transaction that holds their inbox rows (see <see cref="IHandleEventBatch{TEvent}"/>);
    /// <typeparamref name="THandler"/> is resolved per call, in a scope.
    /// </summary>
    public static IServiceCollection AddBatchSubscription<TEvent, THandler>(this IServiceCollection services)
        where TEvent : IMessage<TEvent>, new()
        where THandler : class, IHandleEventBatch<TEvent>
    {
        var topic = CheckNewTopic<TEvent>(services);
        var parser = new MessageParser<TEvent>(() => new TEvent());
        services.AddScoped<THandler>();
        services.AddSingleton(new Subscription(
            topic,
            typeof(TEvent),
            cloudEvent => cloudEvent.DataAs(parser),
            (provider, deliveries, context, cancellationToken) => provider.GetRequiredService<THandler>().HandleAsync(
                deliveries.Select(d => new EventDelivery<TEvent>((TEvent)d.Message, d.CloudEvent)).ToList(), context, cancellationToken)));
        return services;
    }

    /// <summary>
    /// Runs <c>eventbus dead-letters</c> (counts) or <c>eventbus replay-dead-letters [topic…]</c> when those are the
    /// arguments, and returns true; otherwise returns false, for the service to run as usual.
    /// </summary>
    public static async Task<bool> TryRunEventBusCommandAsync(this IHost host, IReadOnlyList<string> args, TextWriter output,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        if (args is not ["eventbus", var command, ..] || command is not ("dead-letters" or "replay-dead-letters"))
        {
            return false;
        }

        var deadLetters = host.Services.GetRequiredService<DeadLetters>();
        if (string.Equals(command, "dead-letters", StringComparison.Ordinal))
        {
            foreach (var (topic, count) in await deadLetters.CountAsync(cancellationToken))
            {
                await output.WriteLineAsync($"{topic}\t{count}");
            }

            return true;
        }

        var topics = args.Count > 2 ? args.Skip(2).ToList() : deadLetters.Topics;
        foreach (var topic in topics)
        {
            await output.WriteLineAsync($"{topic}\t{await deadLetters.ReplayAsync(topic, cancellationToken)} replayed");
        }

        return true;
    }

    /// <summary>The topic of <typeparamref name="TEvent"/>, which must not have a subscription yet.</summary>
    private static string CheckNewTopic<TEvent>(IServiceCollection services)
        where TEvent : IMessage<TEvent>, new()
    {
        ArgumentNullException.ThrowIfNull(services);
        var topic = EventNames.Topic(new TEvent().Descriptor);
        if (services.Any(d => d.ServiceType == typeof(Subscription) && string.Equals(((Subscription)d.ImplementationInstance!).Topic, topic, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"{topic} already has a subscription: one handler per topic, as Dapr has one route per topic.");
        }

        return topic;
    }

    private sealed class SchemaCreator(EventBusDataSource dataSource) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => EventBusSchema.EnsureCreatedAsync(dataSource.Value, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
