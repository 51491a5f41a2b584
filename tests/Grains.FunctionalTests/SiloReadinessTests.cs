using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Transformation.TestSupport;

namespace Transformation.Grains.FunctionalTests;

/// <summary>A service with a silo is ready only while its silo is an active member of its cluster.</summary>
public sealed class SiloReadinessTests(PostgresDatabase postgres) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheReadinessCheckIsHealthyWhileTheSiloIsActiveAndNotOnceItHasStopped()
    {
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "readiness",
            ["Grains:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Grains:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddGrains(_ => dataSource);
        using var host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        bool IsReadyCheck(HealthCheckRegistration check) =>
            check.Name == "orleans-silo" && check.Tags.Contains(ServiceDefaults.Extensions.ReadyTag);

        (await health.CheckHealthAsync(IsReadyCheck, Ct)).Status.ShouldBe(HealthStatus.Unhealthy, "before the silo has joined");

        await host.StartAsync(Ct);
        (await health.CheckHealthAsync(IsReadyCheck, Ct)).Status.ShouldBe(HealthStatus.Healthy);

        await host.StopAsync(Ct);
        var stopped = await health.CheckHealthAsync(IsReadyCheck, Ct);
        stopped.Status.ShouldBe(HealthStatus.Unhealthy);
        stopped.Entries["orleans-silo"].Description.ShouldNotBeNull().ShouldContain("not an active member");
    }
}
