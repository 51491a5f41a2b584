using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Transformation.Grains;

/// <summary>
/// Ready while the co-hosted silo is an active member of its cluster: before it has joined (or once it is leaving or declared
/// dead) its grains cannot be called, so the service must not take calls that need them.
/// </summary>
internal sealed class SiloReadiness(ILocalSiloDetails silo, IClusterMembershipService membership) : IHealthCheck
{
    public const string Name = "orleans-silo";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"The silo is {status}, not an active member of its cluster."));
    }
}
