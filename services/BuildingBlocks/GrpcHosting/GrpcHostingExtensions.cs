using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Transformation.GrpcHosting.Health.V1;
using Transformation.GrpcHosting.Reflection.V1;
using Transformation.ServiceDefaults;
using V1Alpha = Transformation.GrpcHosting.Reflection.V1Alpha;

namespace Transformation.GrpcHosting;

public static class GrpcHostingExtensions
{
    /// <summary>Registers gRPC hosting: options ("GrpcHosting" section), health and reflection. Call after AddServiceDefaults.</summary>
    public static IHostApplicationBuilder AddGrpcHosting(this IHostApplicationBuilder builder)
    {
        builder.AddValidatedOptions<GrpcHostingOptions>(GrpcHostingOptions.Section);
        builder.Services.AddHealthChecks();
        builder.Services.AddSingleton<GrpcServiceRegistry>();
        builder.Services.AddSingleton<HealthService>();
        builder.Services.AddSingleton<ReflectionService>();
        builder.Services.AddSingleton<ReflectionV1AlphaService>();
        WriteRateLimits.Add(builder.Services);
        return builder;
    }

    /// <summary>
    /// Adds gRPC hosting's middleware, the rate limiting of calls that change data: call it after authentication (which names
    /// the caller; WebApplication adds it first when the service registers it) and before mapping any gRPC service.
    /// </summary>
    public static IApplicationBuilder UseGrpcHosting(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var registry = app.ApplicationServices.GetService<GrpcServiceRegistry>()
            ?? throw new InvalidOperationException("Call builder.AddGrpcHosting() before app.UseGrpcHosting().");
        registry.MiddlewareAdded = true;
        app.UseRateLimiter();
        return app;
    }

    /// <summary>
    /// Maps every method of the proto <paramref name="service"/> to <typeparamref name="TService"/> at
    /// <c>/package.Service/Method</c>, each with the access <paramref name="access"/> declares for it; throws,
    /// naming the method, when one has no matching implementation or no declared access.
    /// The first call also maps grpc.health.v1, grpc.reflection.v1 and v1alpha, and UNIMPLEMENTED for unknown paths.
    /// </summary>
    public static IEndpointRouteBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints, ServiceDescriptor service, RpcAccessMap access)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(access);
        var registry = endpoints.ServiceProvider.GetService<GrpcServiceRegistry>()
            ?? throw new InvalidOperationException("Call builder.AddGrpcHosting() before mapping gRPC services.");
        if (!registry.MiddlewareAdded)
        {
            throw new InvalidOperationException("Call app.UseGrpcHosting() before mapping gRPC services: it adds the rate limiting of writes.");
        }

        if (!registry.BuiltInsMapped)
        {
            registry.BuiltInsMapped = true;
            var health = HealthReflection.Descriptor.Services[0];
            var reflection = ReflectionReflection.Descriptor.Services[0];
            var reflectionV1Alpha = V1Alpha.ReflectionReflection.Descriptor.Services[0];
            MapService(endpoints, registry, typeof(HealthService), health, RpcAccessMap.ForAll(health, RpcAccess.Anonymous));
            MapService(endpoints, registry, typeof(ReflectionService), reflection, RpcAccessMap.ForAll(reflection, RpcAccess.Anonymous));
            MapService(endpoints, registry, typeof(ReflectionV1AlphaService), reflectionV1Alpha, RpcAccessMap.ForAll(reflectionV1Alpha, RpcAccess.Anonymous));

            // Literal routes win over this pattern, so it only catches paths no service maps.
            endpoints.MapPost("/{service}/{method}", (HttpContext http, string service) =>
                ServerCall.HandleUnimplemented(http, registry.IsKnownService(service)));
        }

        MapService(endpoints, registry, typeof(TService), service, access);
        return endpoints;
    }

    private static void MapService(IEndpointRouteBuilder endpoints, GrpcServiceRegistry registry, Type serviceType, ServiceDescriptor service, RpcAccessMap access)
    {
        // Bind every method and find its access before mapping any, so a missing one fails start-up cleanly.
        access.ThrowIfUnknown(service);
        var methods = service.Methods.Select(m => ServerMethod.Bind(serviceType, m, access.For(service, m))).ToList();
        registry.Add(service);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<GrpcHostingOptions>>();
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Transformation.GrpcHosting");
        foreach (var (descriptor, method) in service.Methods.Zip(methods))
        {
            var endpoint = endpoints.MapPost(method.Path, (RequestDelegate)(http => ServerCall.HandleAsync(http, method, options.Value, logger)))
                .WithDisplayName($"gRPC {method.Path}");
            if (!method.Access.IsAnonymous && WriteRateLimits.ChangesData(descriptor))
            {
                endpoint.RequireRateLimiting(WriteRateLimits.Policy);
            }
        }
    }
}
