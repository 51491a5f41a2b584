using System.ComponentModel.DataAnnotations;

namespace Transformation.Grains;

/// <summary>How the service's silos find each other.</summary>
public enum GrainsClustering
{
    /// <summary>One silo on this machine (the local run and most tests).</summary>
    Localhost,

    /// <summary>A cluster of silos whose membership table lives in Redis (Microsoft.Orleans.Clustering.Redis).</summary>
    Redis,
}

/// <summary>The "Grains" section: where the service's silo listens and how it joins the others.</summary>
public sealed class GrainsOptions : IValidatableObject
{
    public const string Section = "Grains";

    /// <summary>Silo-to-silo traffic (Orleans' default 11111).</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Where Orleans clients outside the service connect (Orleans' default 30000).</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    public GrainsClustering Clustering { get; set; } = GrainsClustering.Localhost;

    /// <summary>The membership store's StackExchange.Redis configuration ("host:port,password=…"), for Redis clustering.</summary>
    public string? Redis { get; set; }

    /// <summary>
    /// The address the other silos reach this one at (Redis clustering). In Kubernetes the pod's IP replaces it (see
    /// <see cref="Kubernetes"/>).
    /// </summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Running as a Kubernetes pod (Microsoft.Orleans.Hosting.Kubernetes): the pod's IP and name, the cluster from the pod's
    /// labels, and pods of silos declared dead are deleted.
    /// </summary>
    public bool Kubernetes { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Clustering == GrainsClustering.Redis && string.IsNullOrWhiteSpace(Redis))
        {
            yield return new ValidationResult("Grains:Redis is required when Grains:Clustering is Redis: it is the membership store's address.", [nameof(Redis)]);
        }

        if (!System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            yield return new ValidationResult($"Grains:AdvertisedAddress '{AdvertisedAddress}' is not an IP address.", [nameof(AdvertisedAddress)]);
        }
    }
}
