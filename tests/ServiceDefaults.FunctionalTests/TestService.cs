using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Transformation.ServiceDefaults.FunctionalTests;

/// <summary>A minimal service built with the defaults, on free loopback ports of a real Kestrel.</summary>
internal static class TestService
{
    public static (WebApplicationBuilder Builder, int GrpcPort, int HttpPort) CreateBuilder(params (string Key, string Value)[] overrides) =>
        CreateBuilder(new WebApplicationOptions(), overrides);

    public static (WebApplicationBuilder Builder, int GrpcPort, int HttpPort) CreateBuilder(WebApplicationOptions options,
        params (string Key, string Value)[] overrides)
    {
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateBuilder(options);
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "test-service",
            ["Service:GrpcPort"] = grpcPort.ToString(),
            ["Service:HttpPort"] = httpPort.ToString(),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:10",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        return (builder, grpcPort, httpPort);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
