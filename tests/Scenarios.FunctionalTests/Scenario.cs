using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Transformation.GrpcHosting;
using Transformation.TestSupport;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>What scenarios share: a real service on free ports with its own database on the scenario's vhost, calls, waits.</summary>
internal static class Scenario
{
    public static async Task<(WebApplication App, GrpcClient Client, Uri Address)> StartAsync(string name, string database, Uri rabbitMq, TestIdentity identity,
        Action<WebApplicationBuilder> add, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var (grpcPort, httpPort) = (Ports.Free(), Ports.Free());
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = name,
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database,
            ["EventBus:RabbitMq"] = rabbitMq.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:RetryBaseDelay"] = "00:00:00.050",
            ["Actors:Database"] = database,
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        add(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        var address = new Uri($"http://127.0.0.1:{grpcPort}");
        return (app, GrpcClient.Create(address), address);
    }

    public static Task<TResponse> Unary<TRequest, TResponse>(this GrpcClient client, Google.Protobuf.Reflection.FileDescriptor file, string method,
        TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request,
            new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + token } } });

    /// <summary>Waits until a count query in a service's database gives the expected number (events travel asynchronously).</summary>
    public static Task WaitAsync(string database, string sql, long expected, CancellationToken cancellationToken) =>
        TestSql.WaitUntilAsync(database, sql, expected, cancellationToken);
}
