using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Transformation.TestSupport;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>What scenarios share: a real service on free ports with its own database on the scenario's vhost, and calls.</summary>
internal static class Scenario
{
    public static async Task<(WebApplication App, GrpcTestClient Client, Uri Address)> StartAsync(string name, string database, Uri rabbitMq, TestIdentity identity,
        Action<WebApplicationBuilder> add, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var service = await InProcessService.StartAsync(name, database, rabbitMq, identity.Settings, add, map, cancellationToken);
        return (service.App, GrpcTestClient.Create(service.Address), service.Address);
    }

    public static Task<TResponse> Unary<TRequest, TResponse>(this GrpcTestClient client, Google.Protobuf.Reflection.FileDescriptor file, string method,
        TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request,
            GrpcTestClient.As(token));
}
