using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Transformation.GrpcHosting;

/// <summary>
/// A proto method bound to a public method of the service class, by name and by this signature:
/// <list type="bullet">
/// <item>unary: <c>Task&lt;TResponse&gt; M(TRequest, ServerCallContext)</c></item>
/// <item>server streaming: <c>Task M(TRequest, ServerStreamWriter&lt;TResponse&gt;, ServerCallContext)</c></item>
/// <item>client streaming: <c>Task&lt;TResponse&gt; M(IAsyncEnumerable&lt;TRequest&gt;, ServerCallContext)</c></item>
/// <item>bidirectional: <c>Task M(IAsyncEnumerable&lt;TRequest&gt;, ServerStreamWriter&lt;TResponse&gt;, ServerCallContext)</c></item>
/// </list>
/// </summary>
internal abstract class ServerMethod(MethodDescriptor descriptor)
{
    public MethodDescriptor Descriptor { get; } = descriptor;

    /// <summary>Who may call it, declared in the service's <see cref="RpcAccessMap"/>.</summary>
    public RpcAccess Access { get; private set; } = RpcAccess.SignedIn;

    public string Path { get; } = $"/{descriptor.Service.FullName}/{descriptor.Name}";

    public abstract Task InvokeAsync(ServerCall call);

    /// <summary>Binds <paramref name="method"/> to <paramref name="serviceType"/>, or fails naming the method and the signature it needs.</summary>
    public static ServerMethod Bind(Type serviceType, MethodDescriptor method, RpcAccess access)
    {
        var request = method.InputType.ClrType;
        var response = method.OutputType.ClrType;
        var writer = typeof(ServerStreamWriter<>).MakeGenericType(response);
        var requests = typeof(IAsyncEnumerable<>).MakeGenericType(request);
        var (returns, parameters) = (method.IsClientStreaming, method.IsServerStreaming) switch
        {
            (false, false) => (typeof(Task<>).MakeGenericType(response), new[] { request, typeof(ServerCallContext) }),
            (false, true) => (typeof(Task), new[] { request, writer, typeof(ServerCallContext) }),
            (true, false) => (typeof(Task<>).MakeGenericType(response), new[] { requests, typeof(ServerCallContext) }),
            (true, true) => (typeof(Task), new[] { requests, writer, typeof(ServerCallContext) }),
        };

        var candidate = serviceType.GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance, parameters);
        if (candidate is null || candidate.ReturnType != returns)
        {
            var expected = $"public {Name(returns)} {method.Name}({string.Join(", ", parameters.Select(Name))})";
            var found = serviceType.GetMethods(BindingFlags.Public | BindingFlags.Instance).Any(m => string.Equals(m.Name, method.Name, StringComparison.Ordinal));
            throw new InvalidOperationException(
                $"gRPC method '/{method.Service.FullName}/{method.Name}' {(found ? "has a mismatched signature" : "has no implementation")} in {serviceType.FullName}: expected '{expected}'.");
        }

        var bound = typeof(ServerMethod<,,>).MakeGenericType(serviceType, request, response);
        var serverMethod = (ServerMethod)Activator.CreateInstance(bound, method, candidate)!;
        serverMethod.Access = access;
        return serverMethod;
    }

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;
}

internal sealed class ServerMethod<TService, TRequest, TResponse> : ServerMethod
    where TService : class
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private static readonly ObjectFactory<TService> Factory = ActivatorUtilities.CreateFactory<TService>([]);
    private readonly MessageParser<TRequest> _parser;
    private readonly Delegate _handler;

    public ServerMethod(MethodDescriptor descriptor, MethodInfo method)
        : base(descriptor)
    {
        _parser = (MessageParser<TRequest>)descriptor.InputType.Parser;
        _handler = (descriptor.IsClientStreaming, descriptor.IsServerStreaming) switch
        {
            (false, false) => method.CreateDelegate<Func<TService, TRequest, ServerCallContext, Task<TResponse>>>(),
            (false, true) => method.CreateDelegate<Func<TService, TRequest, ServerStreamWriter<TResponse>, ServerCallContext, Task>>(),
            (true, false) => method.CreateDelegate<Func<TService, IAsyncEnumerable<TRequest>, ServerCallContext, Task<TResponse>>>(),
            (true, true) => method.CreateDelegate<Func<TService, IAsyncEnumerable<TRequest>, ServerStreamWriter<TResponse>, ServerCallContext, Task>>(),
        };
    }

    public override async Task InvokeAsync(ServerCall call)
    {
        // A service registered in DI is resolved from the request scope; otherwise one instance per call, as grpc-dotnet does.
        var services = call.Context.HttpContext.RequestServices;
        var registered = services.GetService<TService>();
        var service = registered ?? Factory(services, null);
        try
        {
            var context = call.Context;
            switch (_handler)
            {
                case Func<TService, TRequest, ServerCallContext, Task<TResponse>> unary:
                    await call.WriteMessageAsync(await unary(service, await call.ReadSingleAsync(_parser), context), flush: false);
                    break;
                case Func<TService, TRequest, ServerStreamWriter<TResponse>, ServerCallContext, Task> serverStreaming:
                    await serverStreaming(service, await call.ReadSingleAsync(_parser), new ServerStreamWriter<TResponse>(call), context);
                    break;
                case Func<TService, IAsyncEnumerable<TRequest>, ServerCallContext, Task<TResponse>> clientStreaming:
                    await call.WriteMessageAsync(await clientStreaming(service, call.ReadAllAsync(_parser), context), flush: false);
                    break;
                case Func<TService, IAsyncEnumerable<TRequest>, ServerStreamWriter<TResponse>, ServerCallContext, Task> duplex:
                    await duplex(service, call.ReadAllAsync(_parser), new ServerStreamWriter<TResponse>(call), context);
                    break;
            }
        }
        finally
        {
            if (registered is null)
            {
                await DisposeAsync(service);
            }
        }
    }

    private static async ValueTask DisposeAsync(TService service)
    {
        if (service is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else if (service is IDisposable disposable)
        {
            disposable.Dispose();
        }
    }
}
