using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Transformation.ServiceDefaults.FunctionalTests;

/// <summary>Service:MigrateOnly, the "migrate and exit" of the Kubernetes migration Jobs.</summary>
public sealed class MigrateOnlyTests
{
    [Fact]
    public async Task WithMigrateOnlyTheServiceStopsByItselfOnceEveryHostedServiceHasStarted()
    {
        var (builder, _, _) = TestService.CreateBuilder(("Service:MigrateOnly", "true"));
        var schema = new SchemaStandIn();
        builder.Services.AddHostedService(_ => schema);
        await using var app = builder.Build();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();

        // RunAsync returns only when the host stops (and disposes it); the test's bound ends a hang, it does not stop the host.
        await app.RunAsync().WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        schema.Started.ShouldBeTrue();
        lifetime.ApplicationStarted.IsCancellationRequested.ShouldBeTrue();
        lifetime.ApplicationStopped.IsCancellationRequested.ShouldBeTrue();
    }

    [Fact]
    public async Task WithoutItTheServiceKeepsRunning()
    {
        var (builder, _, _) = TestService.CreateBuilder();
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);

        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.IsCancellationRequested.ShouldBeTrue();
        lifetime.ApplicationStopping.IsCancellationRequested.ShouldBeFalse();
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Stands for a schema creator: a hosted service whose start-up is the migration.</summary>
    private sealed class SchemaStandIn : IHostedService
    {
        public bool Started { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started = true;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
