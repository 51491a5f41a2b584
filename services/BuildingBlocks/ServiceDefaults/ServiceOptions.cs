using System.ComponentModel.DataAnnotations;

namespace Transformation.ServiceDefaults;

/// <summary>The settings every service has, under the "Service" section.</summary>
public sealed class ServiceOptions
{
    public const string Section = "Service";

    /// <summary>The app id: the CloudEvents source, the Dapr app id, the prefix of its queues.</summary>
    [Required]
    [RegularExpression("^[a-z][a-z0-9-]{1,62}$", ErrorMessage = "Service:Name must be a lower-case DNS label such as 'incentives'.")]
    public string Name { get; set; } = "";

    /// <summary>The HTTP/2-only (h2c) port for gRPC; 0 picks a free one.</summary>
    [Range(0, 65535)]
    public int GrpcPort { get; set; } = 5000;

    /// <summary>The HTTP/1.1 port for health, metrics, SCIM and the Dapr sidecar's calls; 0 picks a free one.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 5080;

    /// <summary>Where to listen: "*" for every interface, "localhost" for loopback only.</summary>
    [Required]
    public string BindAddress { get; set; } = "*";

    /// <summary>How long shutdown waits for in-flight calls and background work to finish.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Start, then stop at once, exiting 0 (or fail, exiting non-zero): the hosted services that create or upgrade the
    /// schema run during start-up, so this is the "migrate and exit" of a deployment's migration Job.
    /// </summary>
    public bool MigrateOnly { get; set; }
}
