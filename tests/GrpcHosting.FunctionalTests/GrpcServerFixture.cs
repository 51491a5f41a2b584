using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Transformation.ServiceDefaults;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>A real Kestrel server with the test service on an h2c port, shared by the tests of a class.</summary>
public sealed class GrpcServerFixture : IAsyncLifetime
{
    // ASP.NET Core starts each request's activity, continuing the caller's traceparent, only when someone listens.
    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => string.Equals(source.Name, "Microsoft.AspNetCore", StringComparison.Ordinal),
        Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    private WebApplication? _app;

    public int Port { get; } = FreePort();

    public Uri Address => new($"http://127.0.0.1:{Port}");

    public ServerObservations Observations { get; } = new();

    public Readiness Readiness { get; } = new();

    public WebApplication App => _app!;

    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>The proto files Python needs to build its message classes, dependencies first, as a FileDescriptorSet.</summary>
    public static string WriteDescriptorSet()
    {
        var set = new FileDescriptorSet();
        var roots = new[]
        {
            TestReflection.Descriptor, Grpc.Health.V1.HealthReflection.Descriptor, Grpc.Reflection.V1.ReflectionReflection.Descriptor,
            Google.Rpc.StatusReflection.Descriptor, Google.Rpc.ErrorDetailsReflection.Descriptor,
        };
        var ordered = new List<FileDescriptor>();
        void Visit(FileDescriptor file)
        {
            if (ordered.Contains(file))
            {
                return;
            }

            foreach (var dependency in file.Dependencies)
            {
                Visit(dependency);
            }

            ordered.Add(file);
        }

        foreach (var root in roots)
        {
            Visit(root);
        }

        set.File.AddRange(ordered.Select(f => FileDescriptorProto.Parser.ParseFrom(f.SerializedData)));
        var path = Path.Combine(AppContext.BaseDirectory, "descriptors.pb");
        File.WriteAllBytes(path, set.ToByteArray());
        return path;
    }

    public async ValueTask InitializeAsync()
    {
        ActivitySource.AddActivityListener(_listener);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Service:Name"] = "grpc-test",
            ["Service:GrpcPort"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["GrpcHosting:HealthWatchInterval"] = "00:00:01",
        });
        builder.AddServiceDefaults();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddGrpcHosting();
        builder.Services.AddTransientFailure(e => e is TimeoutException);
        builder.Services.AddSingleton(Observations);
        builder.Services.AddHealthChecks().AddCheck("test-readiness", Readiness, tags: [Extensions.ReadyTag]);
        _app = builder.Build();
        _app.MapGrpcService<TestService>(RpcAccessMap.ForAll(TestReflection.Descriptor.Services[0], RpcAccess.Anonymous));
        _app.MapDefaultEndpoints();
        await _app.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _listener.Dispose();
    }
}

/// <summary>A readiness check the tests switch.</summary>
public sealed class Readiness : IHealthCheck
{
    public bool Ready { get; set; } = true;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Ready ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("switched off by the test"));
}
