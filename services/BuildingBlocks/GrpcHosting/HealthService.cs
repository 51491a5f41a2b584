using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Transformation.GrpcHosting.Health.V1;
using Transformation.ServiceDefaults;
using ServingStatus = Transformation.GrpcHosting.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Transformation.GrpcHosting;

/// <summary>grpc.health.v1.Health answered from the same checks as /health/ready: "" and every mapped service share the process's readiness.</summary>
internal sealed class HealthService(HealthCheckService checks, GrpcServiceRegistry registry, IOptions<GrpcHostingOptions> options)
{
    public async Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!registry.IsKnownService(request.Service))
        {
            throw new RpcException(StatusCode.NotFound, $"Unknown service '{request.Service}'.");
        }

        return new HealthCheckResponse { Status = await ReadinessAsync(context.CancellationToken) };
    }

    /// <summary>Sends the status at once and then on every change, until the caller cancels; an unknown service stays SERVICE_UNKNOWN.</summary>
    public async Task Watch(HealthCheckRequest request, ServerStreamWriter<HealthCheckResponse> responses, ServerCallContext context)
    {
        using var timer = new PeriodicTimer(options.Value.HealthWatchInterval);
        ServingStatus? last = null;
        do
        {
            var status = registry.IsKnownService(request.Service) ? await ReadinessAsync(context.CancellationToken) : ServingStatus.ServiceUnknown;
            if (status != last)
            {
                await responses.WriteAsync(new HealthCheckResponse { Status = status });
                last = status;
            }
        }
        while (await timer.WaitForNextTickAsync(context.CancellationToken));
    }

    private async Task<ServingStatus> ReadinessAsync(CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(check => check.Tags.Contains(Extensions.ReadyTag), cancellationToken);
        return report.Status == HealthStatus.Unhealthy ? ServingStatus.NotServing : ServingStatus.Serving;
    }
}
