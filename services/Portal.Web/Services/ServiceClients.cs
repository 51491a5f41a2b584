using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client.Configuration;
using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Options;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Notifications.V1;

namespace Transformation.Portal.Web.Services;

// The services' generated clients, named as the pages know them, with the service's name as people know it.

public sealed class DirectoryClient(CallInvoker invoker) : DirectoryService.DirectoryServiceClient(invoker)
{
    public const string Name = "The Directory";
}

public sealed class IncentivesClient(CallInvoker invoker) : IncentivesService.IncentivesServiceClient(invoker)
{
    public const string Name = "Incentives";
}

public sealed class BaselinesClient(CallInvoker invoker) : BaselineService.BaselineServiceClient(invoker)
{
    public const string Name = "Baselines";
}

public sealed class InitiativesClient(CallInvoker invoker) : InitiativeService.InitiativeServiceClient(invoker)
{
    public const string Name = "Initiatives";
}

public sealed class EndStateClient(CallInvoker invoker) : EndStateService.EndStateServiceClient(invoker)
{
    public const string Name = "End state";
}

public sealed class NotificationsClient(CallInvoker invoker) : NotificationService.NotificationServiceClient(invoker)
{
    public const string Name = "Notifications";
}

public static class ServiceClientRegistration
{
    /// <summary>The name of the Directory client the demo sign-in reads with its own service token (no person is signed in yet).</summary>
    public const string SignInDirectory = "sign-in";

    /// <summary>
    /// Registers each service's client (Grpc.Net.ClientFactory: pooled HTTP/2 connections shared by every circuit). Every call
    /// carries the signed-in person's bearer token (the circuit's <see cref="SignedInPerson"/>); unary calls give up after
    /// Portal:CallTimeout, so a hung service turns into a message instead of a hung page; reads (NO_SIDE_EFFECTS) are
    /// retried when the service is unavailable.
    /// </summary>
    public static IServiceCollection AddServiceClients(this IServiceCollection services)
    {
        services.AddSingleton<DefaultDeadline>();
        AddClient<DirectoryClient>(services, a => a.Directory, DirectoryReflection.Descriptor.Services[0]);
        AddClient<IncentivesClient>(services, a => a.Incentives, IncentivesReflection.Descriptor.Services[0]);
        AddClient<BaselinesClient>(services, a => a.Baselines, BaselinesReflection.Descriptor.Services[0]);
        AddClient<InitiativesClient>(services, a => a.Initiatives, InitiativesReflection.Descriptor.Services[0]);
        AddClient<EndStateClient>(services, a => a.EndState, EndstateReflection.Descriptor.Services[0]);
        AddClient<NotificationsClient>(services, a => a.Notifications, NotificationsReflection.Descriptor.Services[0]);
        // Its own client type: AddGrpcClient makes the last registration of a type the one injected.
        services.AddGrpcClient<DirectoryService.DirectoryServiceClient>(SignInDirectory, (provider, o) => o.Address = provider.GetRequiredService<IOptions<ServiceAddresses>>().Value.Directory)
            .ConfigureChannel(channel => channel.ServiceConfig = RetrySafeCalls(DirectoryReflection.Descriptor.Services[0]))
            .AddInterceptor<DefaultDeadline>(InterceptorScope.Client);
        return services;
    }

    private static void AddClient<TClient>(IServiceCollection services, Func<ServiceAddresses, Uri?> address, ServiceDescriptor service)
        where TClient : ClientBase =>
        services.AddGrpcClient<TClient>((provider, o) => o.Address = address(provider.GetRequiredService<IOptions<ServiceAddresses>>().Value))
            .ConfigureChannel(channel =>
            {
                channel.ServiceConfig = RetrySafeCalls(service);
                // The services listen on h2c inside the deployment (see ServiceAddresses).
                channel.UnsafeUseInsecureChannelCallCredentials = true;
            })
            .AddCallCredentials(async (_, metadata, provider) =>
            {
                // The provider is the scope the client was made in: the circuit (or request) of the signed-in person. Without a
                // token the call goes without one and the service answers UNAUTHENTICATED ("sign in again").
                if (await provider.GetRequiredService<SignedInPerson>().AccessTokenAsync() is { } token)
                {
                    metadata.Add("authorization", "Bearer " + token);
                }
            })
            .AddInterceptor<DefaultDeadline>(InterceptorScope.Client);

    /// <summary>
    /// A retry policy for the calls that may safely be sent twice: the reads (idempotency_level = NO_SIDE_EFFECTS) and the
    /// unary writes that carry an idempotency key (every service requires it and answers a retry with the first result).
    /// Other writes are never sent twice.
    /// </summary>
    internal static ServiceConfig RetrySafeCalls(ServiceDescriptor service)
    {
        var safe = new MethodConfig
        {
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = 3,
                InitialBackoff = TimeSpan.FromMilliseconds(200),
                MaxBackoff = TimeSpan.FromSeconds(1),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        foreach (var method in service.Methods.Where(IsSafeToRetry))
        {
            safe.Names.Add(new MethodName { Service = service.FullName, Method = method.Name });
        }

        return new ServiceConfig { MethodConfigs = { safe } };
    }

    internal static bool IsSafeToRetry(MethodDescriptor method) =>
        method.GetOptions()?.IdempotencyLevel == MethodOptions.Types.IdempotencyLevel.NoSideEffects
        || (!method.IsClientStreaming && !method.IsServerStreaming && method.InputType.FindFieldByName("idempotency_key") is not null);
}

/// <summary>Unary calls without a deadline of their own get Portal:CallTimeout; streaming calls last as long as the page needs them.</summary>
public sealed class DefaultDeadline(IOptions<PortalOptions> options) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        if (context.Options.Deadline is null)
        {
            // The channel measures deadlines against the system clock.
            context = new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host,
                context.Options.WithDeadline(DateTime.UtcNow + options.Value.CallTimeout));
        }

        return continuation(request, context);
    }
}
