using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace Transformation.GrpcHosting;

/// <summary>
/// Binds each service's RPCs from the BindService method Grpc.Tools generates, as Grpc.AspNetCore's own binder does,
/// except that a request message that cannot be decoded ends the call with INTERNAL naming the message type (what the
/// gRPC spec prescribes). With Grpc.AspNetCore's binder the parser's exception would end the call as UNKNOWN
/// ("Exception was thrown by handler.") and be logged as a server error, though the fault is the caller's.
/// </summary>
internal sealed class DecodeCheckingBinder<TService>(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    where TService : class
{
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
        context.AddUnaryMethod(Checked(method), Metadata(method.Name, out var m, typeof(TRequest), typeof(ServerCallContext)),
            m.CreateDelegate<UnaryServerMethod<TService, TRequest, TResponse>>());

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddServerStreamingMethod(Checked(method), Metadata(method.Name, out var m, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)),
            m.CreateDelegate<ServerStreamingServerMethod<TService, TRequest, TResponse>>());

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddClientStreamingMethod(Checked(method), Metadata(method.Name, out var m, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext)),
            m.CreateDelegate<ClientStreamingServerMethod<TService, TRequest, TResponse>>());

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddDuplexStreamingMethod(Checked(method), Metadata(method.Name, out var m, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)),
            m.CreateDelegate<DuplexStreamingServerMethod<TService, TRequest, TResponse>>());

    private static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var decode = method.RequestMarshaller.ContextualDeserializer;
        var requests = Marshallers.Create(method.RequestMarshaller.ContextualSerializer, payload =>
        {
            try
            {
                return decode(payload);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new RpcException(new Status(StatusCode.Internal, $"The request message is not a valid {typeof(TRequest).Name}: {e.Message}"));
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, requests, method.ResponseMarshaller);
    }

    /// <summary>The handler (the service's override, or the generated base's UNIMPLEMENTED) and its endpoint metadata, as Grpc.AspNetCore gives it.</summary>
    private static List<object> Metadata(string name, out MethodInfo handler, params Type[] parameters)
    {
        handler = typeof(TService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
            ?? throw new InvalidOperationException($"{typeof(TService).FullName} has no method {name}.");
        return [.. typeof(TService).GetCustomAttributes(inherit: true), .. handler.GetCustomAttributes(inherit: true), new HttpMethodMetadata(["POST"], acceptCorsPreflight: true)];
    }
}

/// <summary>Grpc.AspNetCore's extension point for finding a service's methods; binds with <see cref="DecodeCheckingBinder{TService}"/>.</summary>
internal sealed class DecodeCheckingMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var binding = typeof(TService).GetCustomAttribute<BindServiceMethodAttribute>(inherit: true);
        var bind = binding?.BindType.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .SingleOrDefault(m => string.Equals(m.Name, binding.BindMethodName, StringComparison.Ordinal)
                && m.GetParameters() is [{ ParameterType: var binder }, _] && binder == typeof(ServiceBinderBase));
        bind?.Invoke(null, [new DecodeCheckingBinder<TService>(context), null]);
    }
}
