using Grpc.AspNetCore.HealthChecks;
using Grpc.AspNetCore.Server;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults;

namespace Transformation.GrpcHosting;

public static class GrpcHostingExtensions
{
    /// <summary>
    /// Registers Grpc.AspNetCore with our policies (<see cref="RpcPolicyInterceptor"/>, options from the "GrpcHosting"
    /// section), gRPC health answered from the readiness checks, and reflection. Call after AddServiceDefaults.
    /// </summary>
    public static IHostApplicationBuilder AddGrpcHosting(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<GrpcHostingOptions>(GrpcHostingOptions.Section);
        var services = builder.Services;
        services.AddSingleton<RpcMethodPolicies>();
        services.AddSingleton<WriteRateLimits>();
        services.TryAddSingleton<TransientFailures>();
        services.AddSingleton<RpcPolicyInterceptor>();
        services.AddGrpc(grpc =>
        {
            // An exception's text may hold internals: Grpc.AspNetCore logs it and sends only UNKNOWN.
            grpc.EnableDetailedErrors = false;
            grpc.Interceptors.Add<RpcPolicyInterceptor>();
        });

        // Grpc.AspNetCore's binder gives way to ours, which answers an undecodable request with INTERNAL, not UNKNOWN.
        services.Remove(services.Single(d => d.ServiceType == typeof(IServiceMethodProvider<>)
            && d.ImplementationType?.Name.StartsWith("BinderServiceMethodProvider", StringComparison.Ordinal) == true));
        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(DecodeCheckingMethodProvider<>));
        services.AddOptions<GrpcServiceOptions>().Configure<IOptions<GrpcHostingOptions>>((grpc, hosting) =>
            grpc.MaxReceiveMessageSize = hosting.Value.MaxReceiveMessageSize);
        services.AddGrpcReflection();

        // "" and every mapped service answer with the process's readiness, as /health/ready does.
        services.AddGrpcHealthChecks();
        services.AddOptions<GrpcHealthChecksOptions>().Configure<RpcMethodPolicies>((health, policies) =>
        {
            health.Services.Clear();
            foreach (var name in policies.ServiceNames.Prepend(""))
            {
                health.Services.Map(name, check => check.Tags.Contains(Extensions.ReadyTag, StringComparer.Ordinal));
            }
        });
        services.AddOptions<HealthCheckPublisherOptions>().Configure<IOptions<GrpcHostingOptions>>((publisher, hosting) =>
        {
            publisher.Delay = TimeSpan.Zero;
            publisher.Period = hosting.Value.HealthWatchInterval;
            publisher.Predicate = check => check.Tags.Contains(Extensions.ReadyTag, StringComparer.Ordinal);
        });
        return builder;
    }

    /// <summary>
    /// Maps <typeparamref name="TService"/> (a class deriving from a Grpc.Tools service base) with
    /// <see cref="GrpcEndpointRouteBuilderExtensions.MapGrpcService{TService}"/>, each RPC with the access
    /// <paramref name="access"/> declares for it; throws, naming the RPC, when one declares no access or has no handler.
    /// The first call also maps grpc.health.v1 and reflection (v1 and v1alpha), which anyone may call.
    /// </summary>
    public static GrpcServiceEndpointConventionBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints, RpcAccessMap access)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(access);
        var policies = endpoints.ServiceProvider.GetService<RpcMethodPolicies>()
            ?? throw new InvalidOperationException("Call builder.AddGrpcHosting() before mapping gRPC services.");
        if (policies.ServiceNames.Count == 0)
        {
            MapBuiltIn(policies, Grpc.Health.V1.Health.Descriptor);
            MapBuiltIn(policies, Grpc.Reflection.V1Alpha.ServerReflection.Descriptor);
            MapBuiltIn(policies, Grpc.Reflection.V1.ServerReflection.Descriptor);
            endpoints.MapGrpcHealthChecksService();
            endpoints.MapGrpcReflectionService();
        }

        policies.Add(RpcMethodPolicies.DescriptorOf(typeof(TService)), access, typeof(TService));
        return GrpcEndpointRouteBuilderExtensions.MapGrpcService<TService>(endpoints);
    }

    private static void MapBuiltIn(RpcMethodPolicies policies, Google.Protobuf.Reflection.ServiceDescriptor service) =>
        policies.Add(service, RpcAccessMap.ForAll(service, RpcAccess.Anonymous));
}
